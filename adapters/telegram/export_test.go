package telegram

import "github.com/go-telegram/bot/models"

// WithAfterUpdate is a test hook: f is told each update id once the
// update was handled (its replies sent) or ignored.
func WithAfterUpdate(f func(updateID int64)) Option {
	return func(a *Adapter) { a.afterUpdate = f }
}

// SplitText exposes splitText to tests.
var SplitText = splitText

// Format exposes format to tests.
func Format(text, mode string) string { return format(text, models.ParseMode(mode)) }

// CallbackData is the callback data a's buttons carry for choice id.
func CallbackData(a *Adapter, id string) string { return a.codec.encode(id) }

// ChoiceOf is the choice id a decodes from callback data.
func ChoiceOf(a *Adapter, data string) string { return a.codec.decode(data) }
