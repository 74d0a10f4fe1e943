package telegram

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"sync"
	"unicode/utf8"

	"intakebot/bot"
	"intakebot/flows"
)

// maxCallbackData is Telegram's limit on a button's callback_data, in bytes.
const maxCallbackData = 64

// hashMark starts the callback data of a choice id too long to be sent as
// is. Engine ids never start with it; an id that does is hashed too, so the
// two forms cannot be confused.
const hashMark = "~"

// codec maps engine choice ids to callback data and back. An id of at most
// 64 bytes is sent unchanged, so buttons keep working across restarts and
// versions of the adapter. A longer id is sent as "~" and a hash of the id;
// the hash is decoded with a table filled from every id the flows can
// produce (at startup) and every id encoded since, so it survives a
// restart as long as the flows still produce the id.
type codec struct {
	mu    sync.RWMutex
	byTag map[string]string
}

func newCodec() *codec { return &codec{byTag: map[string]string{}} }

// learn adds ids to the decoding table.
func (c *codec) learn(ids ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if needsHash(id) {
			c.byTag[hashTag(id)] = id
		}
	}
}

// encode returns the callback data for a choice id: at most 64 bytes.
func (c *codec) encode(id string) string {
	if !needsHash(id) {
		return id
	}
	tag := hashTag(id)
	c.mu.Lock()
	c.byTag[tag] = id
	c.mu.Unlock()
	return tag
}

// decode returns the choice id for callback data. Unknown hashed data is
// returned as is: the engine answers it as a stale button.
func (c *codec) decode(data string) string {
	if !strings.HasPrefix(data, hashMark) {
		return data
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if id, ok := c.byTag[data]; ok {
		return id
	}
	return data
}

func needsHash(id string) bool {
	return id == "" || len(id) > maxCallbackData || strings.HasPrefix(id, hashMark) || !utf8.ValidString(id)
}

// hashTag is "~" and 128 bits of SHA-256 of id, URL-safe base64: 23 bytes.
func hashTag(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hashMark + base64.RawURLEncoding.EncodeToString(sum[:16])
}

// ChoiceIDs lists every button id the engine can produce for spec: its own
// buttons, menu and FAQ actions, flow starts, step choices (with skip, done,
// confirm, edit, consent yes/no), summary edits and assessment options. The
// adapter learns them at startup so a hashed long id can be decoded after a
// restart.
func ChoiceIDs(spec *flows.Spec) []string {
	ids := []string{
		bot.ChoiceHuman, bot.ChoiceMenu, bot.ChoiceResume,
		bot.ChoiceCrisisStaff, bot.ChoiceCrisisSafe, bot.ChoiceCrisisMore,
		bot.ChoiceDeleteYes, bot.ChoiceDeleteNo, bot.ChoiceNoticeYes, bot.ChoiceNoticeNo,
	}
	if spec == nil {
		return ids
	}
	for _, m := range spec.Menu {
		ids = append(ids, m.Action)
	}
	for _, e := range spec.FAQ {
		ids = append(ids, "faq:"+e.ID)
		ids = append(ids, e.Followups...)
	}
	for _, f := range spec.Flows {
		ids = append(ids, "flow:"+f.ID)
		for _, st := range f.Steps {
			for _, suffix := range []string{"skip", "done", "confirm", "edit", "yes", "no"} {
				ids = append(ids, st.ID+"."+suffix)
			}
			for _, ch := range st.Choices {
				ids = append(ids, st.ID+"."+ch.ID)
			}
			for _, field := range st.Fields {
				ids = append(ids, "edit."+field)
			}
			if st.Field != "" {
				ids = append(ids, "edit."+st.Field)
			}
			if in := spec.Instrument(st.Instrument); in != nil {
				for i := range in.Items {
					for _, o := range in.ItemOptions(&in.Items[i]) {
						ids = append(ids, st.ID+"."+in.Items[i].ID+"-"+o.ID)
					}
				}
			}
		}
	}
	return ids
}

// shortLabel is the longest label, in characters, that shares a keyboard
// row with another.
const shortLabel = 20

// inlineKeyboard is Telegram's InlineKeyboardMarkup with only the fields
// the adapter uses. The library's own button type always sends an empty
// "copy_text" object, which Telegram may reject (BUTTON_COPY_TEXT_INVALID).
type inlineKeyboard struct {
	InlineKeyboard [][]inlineButton `json:"inline_keyboard"`
}

type inlineButton struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data"`
}

// keyboard lays choices out as an inline keyboard: two short labels share
// a row, a long one has a row of its own. It returns nil for no choices.
func (c *codec) keyboard(choices []bot.Choice) *inlineKeyboard {
	if len(choices) == 0 {
		return nil
	}
	kb := &inlineKeyboard{}
	short := func(ch bot.Choice) bool { return utf8.RuneCountInString(ch.Label) <= shortLabel }
	for i := 0; i < len(choices); i++ {
		row := []inlineButton{c.button(choices[i])}
		if i+1 < len(choices) && short(choices[i]) && short(choices[i+1]) {
			row = append(row, c.button(choices[i+1]))
			i++
		}
		kb.InlineKeyboard = append(kb.InlineKeyboard, row)
	}
	return kb
}

func (c *codec) button(ch bot.Choice) inlineButton {
	label := strings.TrimSpace(ch.Label)
	if label == "" {
		label = ch.ID
	}
	return inlineButton{Text: label, CallbackData: c.encode(ch.ID)}
}

// emptyKeyboard removes an inline keyboard when sent with an edit.
var emptyKeyboard = &inlineKeyboard{InlineKeyboard: [][]inlineButton{}}
