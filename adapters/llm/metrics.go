package llm

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the adapter's Prometheus collectors. They are registered on
// the Registerer given with WithRegisterer (the one serve exposes on
// /metrics), never on the global registry.
type metrics struct {
	rephrase *prometheus.CounterVec   // verdicts by reason
	choose   *prometheus.CounterVec   // chooser results
	duration *prometheus.HistogramVec // call latency by operation
	trips    *prometheus.CounterVec   // breaker openings by operation
}

// Chooser results, the labels of intakebot_llm_choose_total.
const (
	ChooseChosen      = "chosen"       // an id from the list
	ChooseNone        = "none"         // the model said none fits
	ChooseInvalid     = "invalid"      // an id not in the list, or not JSON
	ChooseBreakerOpen = "breaker_open" // not called: recent calls failed
	ChooseTimeout     = "timeout"
	ChooseError       = "error"
	ChooseCanceled    = "canceled"
)

var chooseResults = []string{ChooseChosen, ChooseNone, ChooseInvalid, ChooseBreakerOpen, ChooseTimeout, ChooseError, ChooseCanceled}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		rephrase: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "intakebot_llm_rephrase_total",
			Help: "Rephrasing verdicts by reason: ok and cache_hit sent the rephrased text, every other reason sent the scripted text.",
		}, []string{"reason"}),
		choose: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "intakebot_llm_choose_total",
			Help: "FAQ chooser results: chosen used the model's pick, every other result offered the candidates as buttons.",
		}, []string{"result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "intakebot_llm_request_duration_seconds",
			Help:    "Latency of calls to the LLM endpoint, including timeouts and failures.",
			Buckets: []float64{0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 5, 10},
		}, []string{"op"}),
		trips: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "intakebot_llm_breaker_opened_total",
			Help: "Times the circuit breaker opened after repeated failures of the LLM endpoint.",
		}, []string{"op"}),
	}
	var err error
	if m.rephrase, err = register(reg, m.rephrase); err != nil {
		return nil, err
	}
	if m.choose, err = register(reg, m.choose); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	if m.trips, err = register(reg, m.trips); err != nil {
		return nil, err
	}
	// Every label shows on /metrics from the start, at zero.
	for _, r := range Reasons {
		m.rephrase.WithLabelValues(string(r))
	}
	for _, r := range chooseResults {
		m.choose.WithLabelValues(r)
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// the same name (a Rephraser and a Chooser share the registry).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	switch {
	case err == nil:
		return c, nil
	case errors.As(err, &are):
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("llm: register metrics: %w", err)
}
