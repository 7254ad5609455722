package server

import (
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sintgate/sintgate/gateway"
)

// Metrics are the gateway's Prometheus metrics.
type Metrics struct {
	reg       *prometheus.Registry
	decisions *prometheus.CounterVec
	latency   prometheus.Histogram
	inFlight  prometheus.Gauge
}

// NewMetrics registers the metrics; breakerTripped reports the breaker.
func NewMetrics(breakerTripped func() bool) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sint_decisions_total", Help: "Intercept decisions by decision, code and tier.",
	}, []string{"decision", "code", "tier"})
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "sint_decision_duration_seconds", Help: "Time to decide an intercept, ledger commit and attestation included.",
		Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.1, 0.5, 1},
	})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "sint_intercepts_in_flight", Help: "Intercepts being decided."})
	breaker := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sint_estop_tripped", Help: "1 while the e-stop breaker is tripped."}, func() float64 {
		if breakerTripped() {
			return 1
		}
		return 0
	})
	m.reg.MustRegister(m.decisions, m.latency, m.inFlight, breaker, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Observe records one decision.
func (m *Metrics) Observe(res *gateway.Result) {
	code := ""
	if res.Body.Code != nil {
		code = *res.Body.Code
	}
	m.decisions.WithLabelValues(res.Body.Decision, code, strconv.Itoa(res.Body.Tier)).Inc()
	m.latency.Observe(res.Duration.Seconds())
}

// InFlight adjusts the in-flight gauge.
func (m *Metrics) InFlight(d float64) { m.inFlight.Add(d) }

func (m *Metrics) handler() fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
}
