package gateway

import (
	"context"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/store"
)

// metrics are the gateway's Prometheus metrics, in a registry of its own
// (several gateways may run in one process, in tests). Labels carry
// connector ids, route templates, states and mapping names — never a
// record id or any patient data.
type metrics struct {
	registry *prometheus.Registry
	attempts *prometheus.CounterVec   // connector, result
	latency  *prometheus.HistogramVec // connector
	requests *prometheus.CounterVec   // route, method, status
	mapping  *prometheus.HistogramVec // mapping
}

func newMetrics(g *Gateway) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "liaison_delivery_attempts_total",
			Help: "Delivery attempts by connector and result: delivered, retried (failed, to be retried), dead.",
		}, []string{"connector", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "liaison_delivery_duration_seconds",
			Help:    "Time one delivery attempt took, by connector.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"connector"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "liaison_http_requests_total",
			Help: "Inbound HTTP requests by route template, method and status.",
		}, []string{"route", "method", "status"}),
		mapping: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "liaison_mapping_duration_seconds",
			Help:    "Time to map one record (map, validate, encode), by mapping.",
			Buckets: prometheus.ExponentialBuckets(0.00001, 3, 12),
		}, []string{"mapping"}),
	}
	m.registry.MustRegister(m.attempts, m.latency, m.requests, m.mapping, connectorCollector{g},
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// attempt is the outbox's OnAttempt hook.
func (m *metrics) attempt(connector string, state store.State, took time.Duration) {
	result := map[store.State]string{store.Delivered: "delivered", store.Failed: "retried", store.Dead: "dead"}[state]
	m.attempts.WithLabelValues(connector, result).Inc()
	m.latency.WithLabelValues(connector).Observe(took.Seconds())
}

// request counts one answered request by its route template.
func (m *metrics) request(c echo.Context) {
	route := c.Path()
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(route, c.Request().Method, strconv.Itoa(c.Response().Status)).Inc()
}

// mapped times one mapping.
func (m *metrics) mapped(name string, start time.Time) {
	m.mapping.WithLabelValues(name).Observe(time.Since(start).Seconds())
}

// handler serves /metrics.
func (m *metrics) handler() echo.HandlerFunc {
	h := promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
	return echo.WrapHandler(h)
}

// connectorCollector reads, at each scrape, what the store and the outbox
// know of every connector: messages by state, oldest undelivered age,
// breaker state.
type connectorCollector struct{ g *Gateway }

var (
	descMessages = prometheus.NewDesc("liaison_connector_messages", "Outbox messages of a connector by state (delivered counts every message ever delivered).", []string{"connector", "state"}, nil)
	descOldest   = prometheus.NewDesc("liaison_connector_oldest_queued_age_seconds", "Age of the connector's oldest undelivered message; 0 when none.", []string{"connector"}, nil)
	descBreaker  = prometheus.NewDesc("liaison_connector_breaker_open", "1 while the connector's circuit breaker is open or half-open.", []string{"connector", "state"}, nil)
)

func (c connectorCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descMessages
	ch <- descOldest
	ch <- descBreaker
}

func (c connectorCollector) Collect(ch chan<- prometheus.Metric) {
	ctx := context.Background()
	cs, err := c.g.store.Connectors(ctx)
	if err != nil {
		return
	}
	for _, sc := range cs {
		counts, err := c.g.store.Counts(ctx, sc.ID)
		if err != nil {
			continue
		}
		for st, n := range counts {
			ch <- prometheus.MustNewConstMetric(descMessages, prometheus.GaugeValue, float64(n), sc.ID, string(st))
		}
		age := 0.0
		if oldest, ok, _ := c.g.store.OldestUndelivered(ctx, sc.ID); ok {
			age = time.Since(oldest).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, age, sc.ID)
		b := c.g.outbox.Status(sc.ID).Breaker
		open := 0.0
		if b == outbox.BreakerOpen || b == outbox.BreakerHalfOpen {
			open = 1
		}
		ch <- prometheus.MustNewConstMetric(descBreaker, prometheus.GaugeValue, open, sc.ID, string(b))
	}
}
