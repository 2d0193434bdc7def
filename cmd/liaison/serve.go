package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/liaisonhq/liaison/gateway"
	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/store"
	"github.com/liaisonhq/liaison/mappings"
	"github.com/liaisonhq/liaison/transform"
)

func serve(ctx context.Context, s *stdio, args []string) int {
	f := newFlags("serve", "[flags]", `
Runs the gateway until interrupted (SIGINT or SIGTERM), then shuts down
gracefully: running requests get --shutdown-timeout to finish, deliveries
under way are cut off and made again at the next start. Logs are JSON lines
on standard error.

Management calls need the admin token: LIAISON_ADMIN_TOKEN, or the one the
first start generates and prints. A --config file declares connectors,
a mappings folder and delivery defaults, loaded at start.`)
	var cfg gateway.Config
	f.StringVar(&cfg.Addr, "addr", gateway.DefaultAddr, "TCP `address` to listen on, host:port")
	f.StringVar(&cfg.DataDir, "data", gateway.DefaultDataDir, "`directory` of the gateway's store")
	f.StringVar(&cfg.DataDir, "data-dir", gateway.DefaultDataDir, "the same as --data")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", gateway.DefaultShutdownTimeout, "how long running requests may take to finish at shutdown")
	storeURL := f.String("store", "", "keep the state in a NATS JetStream cluster shared by several gateways: nats://host:4222[,nats://…] (more in the config file's store section)")
	configFile := f.String("config", "", "a YAML `file` of connectors, a mappings folder and delivery defaults")
	f.StringVar(&cfg.PublicURL, "public-url", "", "the `URL` outside systems reach the gateway at, for webhook subscriptions")
	mappingsDir := f.String("mappings", "", mappingsFlagUsage)
	f.StringVar(&cfg.AuditTo, "audit-to", "", "a connector (`name` or id) that receives every audit entry as a FHIR AuditEvent")
	f.DurationVar(&cfg.AuditRetention, "audit-retention", gateway.DefaultAuditRetention, "how long the audit trail is kept")
	var level slog.Level
	f.TextVar(&level, "log-level", slog.LevelInfo, "least `level` logged: debug, info, warn or error")
	pos, code, ok := f.parse(s, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return f.usageError(s, "unexpected argument %q", pos[0])
	}
	logs := newLogWriter(s.err)
	defer logs.Close()
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level}))
	gateway.SetRuntimeDefaults()

	folders := []fs.FS{mappings.FS}
	if *configFile != "" {
		file, err := connector.LoadFile(*configFile)
		if err != nil {
			fmt.Fprintf(s.err, "liaison serve: %v\n", err)
			return exitFail
		}
		cfg.Connectors, cfg.Delivery, cfg.Store = file.Connectors, file.Delivery, file.Store
		if file.Mappings != "" {
			folders = append(folders, os.DirFS(file.Mappings))
		}
	}
	if *storeURL != "" {
		cfg.Store.URL = *storeURL
	}
	if *mappingsDir != "" {
		folders = append(folders, os.DirFS(*mappingsDir))
	}
	set, err := transform.NewSet(folders...)
	if err != nil {
		fmt.Fprintf(s.err, "liaison serve: mappings:\n%v\n", err)
		return exitFail
	}
	cfg.Mappings = set
	cfg.Adapters = adapters()
	cfg.Consumers = consumers()
	cfg.AdminToken = os.Getenv("LIAISON_ADMIN_TOKEN")
	if text := os.Getenv("LIAISON_SECRET_KEY"); text != "" {
		key, err := connector.SecretKey(text)
		if err != nil {
			fmt.Fprintf(s.err, "liaison serve: LIAISON_SECRET_KEY: %v\n", err)
			return exitFail
		}
		cfg.SecretKey = key
	}

	g, err := gateway.New(cfg, log)
	if errors.Is(err, store.ErrLocked) {
		abs, _ := filepath.Abs(cfg.DataDir)
		fmt.Fprintf(s.err, "liaison serve: %s is in use by another liaison process; stop it, or give this one its own --data directory\n", abs)
		return exitFail
	}
	if err != nil {
		fmt.Fprintf(s.err, "liaison serve: %v\n", err)
		return exitFail
	}
	defer g.Close()
	if token := g.GeneratedToken(); token != "" {
		logs.flush()
		fmt.Fprintf(s.err, "\nAdmin token (shown once; set LIAISON_ADMIN_TOKEN to choose your own):\n\n    %s\n\n", token)
	}
	log.Info("starting", "version", versionString(), "addr", g.Config().Addr, "store", g.Config().Store.String(), "data_dir", g.Config().DataDir, "mappings", len(set.All()))
	if err := g.Run(ctx); err != nil {
		log.Error("serve", "err", err)
		return exitFail
	}
	return exitOK
}
