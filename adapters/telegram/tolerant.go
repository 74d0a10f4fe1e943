package telegram

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/go-telegram/bot/models"
)

// The library decodes a whole getUpdates batch at once, and some of its
// types refuse values Telegram may add later (a new forward origin,
// reaction or chat member status answers "unsupported ... type"). One such
// update would fail the batch, and since the offset then never advances,
// polling would fetch the same batch forever: the bot would go silent for
// everyone. tolerantClient sits between the library and the network; when
// the library reported such a failure (armed), it repairs the next batch
// before the library sees it: a field that does not decode is dropped (the
// rest of the message still counts: its text is answered), and an update
// that still does not decode is reduced to its id, which the adapter
// ignores. Batches that decode pass through untouched, at no cost.
type tolerantClient struct {
	next  HTTPClient
	armed *atomic.Bool
	onFix func(updateID int64)
}

// getUpdatesUnreadable is in the library's error for a getUpdates answer
// whose updates it could not decode.
const getUpdatesUnreadable = "error decode response result for method getUpdates"

// maxUpdatesBody bounds a getUpdates body read for repair (100 updates of
// at most a few kilobytes each, with a wide margin).
const maxUpdatesBody = 64 << 20

func (c tolerantClient) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.next.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK || !c.armed.Load() || !strings.HasSuffix(req.URL.Path, "/getUpdates") {
		return resp, err
	}
	c.armed.Store(false)
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxUpdatesBody))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if fixed, ok := repairBatch(body, c.onFix); ok {
		body = fixed
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// repairBatch repairs the updates of a getUpdates answer that do not
// decode; ok is false when nothing needed repair (or the body is not an
// answer with a list, which the library reports itself).
func repairBatch(body []byte, onFix func(int64)) ([]byte, bool) {
	var answer map[string]json.RawMessage
	if err := json.Unmarshal(body, &answer); err != nil {
		return nil, false
	}
	var updates []json.RawMessage
	if err := json.Unmarshal(answer["result"], &updates); err != nil {
		return nil, false
	}
	changed := false
	for i, raw := range updates {
		if fixed, ok := repairUpdate(raw); ok {
			updates[i] = fixed
			changed = true
			if onFix != nil {
				var id struct {
					ID int64 `json:"update_id"`
				}
				_ = json.Unmarshal(raw, &id)
				onFix(id.ID)
			}
		}
	}
	if !changed {
		return nil, false
	}
	result, err := json.Marshal(updates)
	if err != nil {
		return nil, false
	}
	answer["result"] = result
	out, err := json.Marshal(answer)
	if err != nil {
		return nil, false
	}
	return out, true
}

// repairUpdate returns a version of one update that decodes, and true, or
// false when it decodes as it is.
func repairUpdate(raw json.RawMessage) (json.RawMessage, bool) {
	var u models.Update
	if json.Unmarshal(raw, &u) == nil {
		return nil, false
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return json.RawMessage(`{"update_id":0}`), true
	}
	for k, v := range fields {
		switch k {
		case "update_id":
		case "message", "edited_message", "channel_post", "edited_channel_post", "business_message", "edited_business_message":
			fields[k] = repairObject[models.Message](v, nil)
		case "callback_query":
			fields[k] = repairObject[models.CallbackQuery](v, map[string]func(json.RawMessage) json.RawMessage{
				"message": func(m json.RawMessage) json.RawMessage { return repairObject[models.Message](m, nil) },
			})
		default:
			// Other kinds are ignored by the adapter: drop what fails.
			var probe models.Update
			if json.Unmarshal(wrap(k, v), &probe) != nil {
				delete(fields, k)
			}
		}
	}
	fixed, err := json.Marshal(fields)
	if err == nil && json.Unmarshal(fixed, &u) == nil {
		return fixed, true
	}
	id := fields["update_id"]
	if len(id) == 0 {
		id = json.RawMessage("0")
	}
	return json.RawMessage(`{"update_id":` + string(id) + `}`), true
}

// repairObject keeps the fields of a JSON object that decode into T on
// their own (after repairing the nested ones named in nested), and drops
// the others.
func repairObject[T any](raw json.RawMessage, nested map[string]func(json.RawMessage) json.RawMessage) json.RawMessage {
	var whole T
	if json.Unmarshal(raw, &whole) == nil {
		return raw
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return raw
	}
	for k, v := range fields {
		if fix, ok := nested[k]; ok {
			v = fix(v)
			fields[k] = v
		}
		var probe T
		if json.Unmarshal(wrap(k, v), &probe) != nil {
			delete(fields, k)
		}
	}
	out, err := json.Marshal(fields)
	if err != nil {
		return raw
	}
	return out
}

// wrap is the JSON object {k: v}.
func wrap(k string, v json.RawMessage) []byte {
	key, _ := json.Marshal(k)
	return append(append(append(append([]byte{'{'}, key...), ':'), v...), '}')
}

// decodeUpdate decodes a webhook body into an update, repairing it like
// a polled one; a body that is not a JSON object with an update_id is an
// error.
func decodeUpdate(body []byte, u *models.Update) (repaired bool, err error) {
	var head struct {
		ID *int64 `json:"update_id"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return false, err
	}
	if head.ID == nil {
		return false, errors.New("no update_id")
	}
	if err := json.Unmarshal(body, u); err == nil {
		return false, nil
	}
	fixed, _ := repairUpdate(body)
	*u = models.Update{}
	return true, json.Unmarshal(fixed, u)
}
