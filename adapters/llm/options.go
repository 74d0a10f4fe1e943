package llm

import (
	"intakebot/bot"
	"intakebot/flows"
)

// EngineOptions returns the bot.New options cfg asks for: none when no
// model is configured, WithRephraser when one is, and WithFAQChooser too
// when cfg.ChooseFAQ is on. opts apply to both (serve passes WithRegisterer
// with the registry it exposes on /metrics, WithCache with the store's
// cache, WithLogger).
func EngineOptions(cfg Config, spec *flows.Spec, opts ...Option) ([]bot.Option, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	r, err := NewRephraser(cfg, spec, opts...)
	if err != nil {
		return nil, err
	}
	out := []bot.Option{bot.WithRephraser(r)}
	if cfg.ChooseFAQ {
		c, err := NewChooser(cfg, opts...)
		if err != nil {
			return nil, err
		}
		out = append(out, bot.WithFAQChooser(c))
	}
	return out, nil
}
