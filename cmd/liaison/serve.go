package main

import (
	"context"
	"log/slog"

	"github.com/liaisonhq/liaison/gateway"
)

func serve(ctx context.Context, s *stdio, args []string) int {
	f := newFlags("serve", "[flags]", `
Runs the gateway until interrupted (SIGINT or SIGTERM), then shuts down
gracefully: running requests get --shutdown-timeout to finish. Logs are JSON
lines on standard error.`)
	var cfg gateway.Config
	f.StringVar(&cfg.Addr, "addr", gateway.DefaultAddr, "TCP `address` to listen on, host:port")
	f.StringVar(&cfg.DataDir, "data-dir", gateway.DefaultDataDir, "`directory` of the gateway's store")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", gateway.DefaultShutdownTimeout, "how long running requests may take to finish at shutdown")
	var level slog.Level
	f.TextVar(&level, "log-level", slog.LevelInfo, "least `level` logged: debug, info, warn or error")
	pos, code, ok := f.parse(s, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return f.usageError(s, "unexpected argument %q", pos[0])
	}

	log := slog.New(slog.NewJSONHandler(s.err, &slog.HandlerOptions{Level: level}))
	g, err := gateway.New(cfg, log)
	if err != nil {
		log.Error("start", "err", err)
		return exitFail
	}
	log.Info("starting", "version", versionString(), "addr", g.Config().Addr, "data_dir", g.Config().DataDir)
	if err := g.Run(ctx); err != nil {
		log.Error("serve", "err", err)
		return exitFail
	}
	return exitOK
}
