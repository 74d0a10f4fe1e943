package telegram

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"intakebot/bot"
)

// route names an update's kind and the chat whose queue it joins; ok is
// false for updates ignored by rule: edits, channel posts, inline queries,
// payments, polls, reactions, business messages, member changes of others.
func route(u *models.Update) (chat int64, kind string, ok bool) {
	switch {
	case u.Message != nil:
		switch u.Message.Chat.Type {
		case models.ChatTypePrivate, models.ChatTypeGroup, models.ChatTypeSupergroup:
			return u.Message.Chat.ID, "message", true
		}
		return 0, "message_" + string(u.Message.Chat.Type), false
	case u.CallbackQuery != nil:
		cq := u.CallbackQuery
		if m := cq.Message.Message; m != nil {
			return m.Chat.ID, "callback_query", true
		}
		if m := cq.Message.InaccessibleMessage; m != nil {
			return m.Chat.ID, "callback_query", true
		}
		// A button under an inline-mode message: answered, nothing else.
		return cq.From.ID, "callback_query", true
	case u.MyChatMember != nil:
		return u.MyChatMember.Chat.ID, "my_chat_member", true
	case u.EditedMessage != nil:
		return 0, "edited_message", false
	case u.ChannelPost != nil:
		return 0, "channel_post", false
	case u.EditedChannelPost != nil:
		return 0, "edited_channel_post", false
	case u.InlineQuery != nil:
		return 0, "inline_query", false
	case u.ChosenInlineResult != nil:
		return 0, "chosen_inline_result", false
	case u.BusinessConnection != nil, u.BusinessMessage != nil, u.EditedBusinessMessage != nil, u.DeletedBusinessMessages != nil:
		return 0, "business", false
	case u.ChatMember != nil:
		return 0, "chat_member", false
	case u.ChatJoinRequest != nil:
		return 0, "chat_join_request", false
	case u.Poll != nil, u.PollAnswer != nil:
		return 0, "poll", false
	case u.MessageReaction != nil, u.MessageReactionCount != nil:
		return 0, "reaction", false
	case u.ShippingQuery != nil, u.PreCheckoutQuery != nil, u.PurchasedPaidMedia != nil:
		return 0, "payment", false
	case u.ChatBoost != nil, u.RemovedChatBoost != nil:
		return 0, "boost", false
	}
	return 0, "unknown", false
}

// process handles one update in its chat's worker. A panic is logged with
// the update id only and never stops the worker or other chats.
func (a *Adapter) process(j job) {
	u := j.update.(*models.Update)
	defer func() {
		if r := recover(); r != nil {
			a.log.LogAttrs(context.Background(), slog.LevelError, "telegram.panic",
				slog.Int64("update_id", u.ID), a.chatAttr(j.chat))
		}
		a.committed(u.ID)
		if a.afterUpdate != nil {
			a.afterUpdate(u.ID)
		}
	}()
	if a.workCtx.Err() != nil {
		a.log.LogAttrs(context.Background(), slog.LevelWarn, "telegram.update_abandoned",
			slog.Int64("update_id", u.ID), a.chatAttr(j.chat))
		return
	}
	switch {
	case u.Message != nil:
		a.onMessage(u, u.Message)
	case u.CallbackQuery != nil:
		a.onCallback(u, u.CallbackQuery)
	case u.MyChatMember != nil:
		a.onMyChatMember(u, u.MyChatMember)
	}
}

// onMessage turns a private message into a turn: its text or caption, and
// the kind of content the bot cannot read. Group chats get one notice;
// messages from bots and service messages are ignored.
func (a *Adapter) onMessage(u *models.Update, m *models.Message) {
	chat := m.Chat.ID
	if m.Chat.Type != models.ChatTypePrivate {
		a.noticeGroup(u, chat)
		return
	}
	if m.From != nil && m.From.IsBot {
		a.ignored(u, chat, "from_bot")
		return
	}
	text := m.Text
	if text == "" {
		text = m.Caption
	}
	nonText := contentKind(m)
	if text == "" && nonText == "" {
		a.ignored(u, chat, "service")
		return
	}
	in := a.inbound(u, chat)
	in.Text, in.NonText = text, nonText
	in.Time = time.Unix(int64(m.Date), 0)
	if m.Date == 0 {
		in.Time = a.now()
	}
	if m.From != nil {
		in.Lang = lang(m.From.LanguageCode)
	}
	a.turn(u, chat, in, nil)
}

// contentKind names what a message carries besides text, or "".
func contentKind(m *models.Message) string {
	switch {
	case len(m.Photo) > 0:
		return "photo"
	case m.Voice != nil:
		return "voice"
	case m.VideoNote != nil:
		return "video_note"
	case m.Video != nil:
		return "video"
	case m.Animation != nil:
		return "animation"
	case m.Audio != nil:
		return "audio"
	case m.Sticker != nil:
		return "sticker"
	case m.Document != nil:
		return "document"
	case m.Venue != nil:
		return "venue"
	case m.Location != nil:
		return "location"
	case m.Contact != nil:
		return "contact"
	case m.Poll != nil:
		return "poll"
	case m.Dice != nil:
		return "dice"
	case m.Game != nil:
		return "game"
	case m.Story != nil:
		return "story"
	case m.PaidMedia != nil:
		return "paid_media"
	case m.Checklist != nil:
		return "checklist"
	case m.Invoice != nil:
		return "invoice"
	case m.Giveaway != nil:
		return "giveaway"
	}
	return ""
}

// onCallback answers a button press (always, so the button stops
// spinning), runs the choice as a turn in a private chat, and marks the
// chosen option on the message that carried the button.
func (a *Adapter) onCallback(u *models.Update, cq *models.CallbackQuery) {
	ctx := a.workCtx
	err := a.call(ctx, "answerCallbackQuery", 0, policy{transient: 2}, func(ctx context.Context) error {
		_, err := a.tg.AnswerCallbackQuery(ctx, &tgbot.AnswerCallbackQueryParams{CallbackQueryID: cq.ID})
		return err
	})
	if err != nil {
		a.log.LogAttrs(ctx, slog.LevelWarn, "telegram.answer_callback_failed", slog.Int64("update_id", u.ID), slog.String("error", err.Error()))
	}
	var chat int64
	switch {
	case cq.Message.Message != nil:
		if cq.Message.Message.Chat.Type != models.ChatTypePrivate {
			a.ignored(u, cq.Message.Message.Chat.ID, "callback_not_private")
			return
		}
		chat = cq.Message.Message.Chat.ID
	case cq.Message.InaccessibleMessage != nil:
		if cq.Message.InaccessibleMessage.Chat.Type != models.ChatTypePrivate {
			a.ignored(u, cq.Message.InaccessibleMessage.Chat.ID, "callback_not_private")
			return
		}
		chat = cq.Message.InaccessibleMessage.Chat.ID
	default:
		a.ignored(u, cq.From.ID, "callback_inline")
		return
	}
	if cq.Data == "" {
		a.ignored(u, chat, "callback_no_data")
		return
	}
	in := a.inbound(u, chat)
	in.Choice = a.codec.decode(cq.Data)
	in.Time = a.now()
	in.Lang = lang(cq.From.LanguageCode)
	a.turn(u, chat, in, func() { a.markChosen(u, cq.Message.Message, cq.Data) })
}

// onMyChatMember follows the bot's own membership: a private chat that
// blocked the bot is unreachable; a group that added it gets the notice.
func (a *Adapter) onMyChatMember(u *models.Update, m *models.ChatMemberUpdated) {
	chat := m.Chat.ID
	switch m.Chat.Type {
	case models.ChatTypePrivate:
		switch m.NewChatMember.Type {
		case models.ChatMemberTypeBanned:
			a.markUnreachable(a.workCtx, u.ID, chat, "blocked")
		case models.ChatMemberTypeMember:
			a.setReachable(chat)
		}
	case models.ChatTypeGroup, models.ChatTypeSupergroup:
		switch m.NewChatMember.Type {
		case models.ChatMemberTypeMember, models.ChatMemberTypeAdministrator:
			a.noticeGroup(u, chat)
		}
	}
}

// lang is the primary language of a Telegram language code (an IETF tag
// such as "pt-br"), as the engine keys its resources: "pt".
func lang(code string) string {
	code = strings.ToLower(strings.TrimSpace(code))
	if i := strings.IndexAny(code, "-_"); i >= 0 {
		code = code[:i]
	}
	return code
}

func (a *Adapter) inbound(u *models.Update, chat int64) bot.Inbound {
	return bot.Inbound{Channel: Channel, ChatID: strconv.FormatInt(chat, 10), UpdateID: strconv.FormatInt(u.ID, 10)}
}

// turn runs one engine turn and sends its replies in order. after, if not
// nil, runs between the turn and the replies (marking a chosen button). A
// repeated update id (bot.ErrDuplicate) is not answered again.
func (a *Adapter) turn(u *models.Update, chat int64, in bot.Inbound, after func()) {
	a.setReachable(chat)
	ctx, cancel := context.WithTimeout(a.workCtx, a.turnTimeout)
	stopTyping := a.typing(chat)
	out, err := a.h.Handle(ctx, in)
	stopTyping()
	cancel()
	a.committed(u.ID)
	switch {
	case errors.Is(err, bot.ErrDuplicate):
		a.log.LogAttrs(a.workCtx, slog.LevelInfo, "telegram.duplicate", slog.Int64("update_id", u.ID), a.chatAttr(chat))
		return
	case err != nil:
		// The output still holds what the person must hear.
		a.log.LogAttrs(a.workCtx, slog.LevelError, "telegram.turn_failed", slog.Int64("update_id", u.ID),
			a.chatAttr(chat), slog.String("error", a.redact(err).Error()))
	default:
		a.log.LogAttrs(a.workCtx, slog.LevelDebug, "telegram.turn", slog.Int64("update_id", u.ID),
			a.chatAttr(chat), slog.Int("replies", len(out.Replies)))
	}
	if after == nil {
		a.sendReplies(u.ID, chat, out.Replies)
		return
	}
	if out.Crisis() {
		// Nothing goes before a crisis reply.
		a.sendReplies(u.ID, chat, out.Replies)
		after()
		return
	}
	after()
	a.sendReplies(u.ID, chat, out.Replies)
}

// typing shows the typing action if the turn takes longer than the typing
// delay; the returned stop waits for that request, so the action never
// arrives after the reply.
func (a *Adapter) typing(chat int64) (stop func()) {
	switch {
	case a.typingDelay < 0:
		return func() {}
	case a.typingDelay == 0:
		a.sendTyping(chat)
		return func() {}
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTimer(a.typingDelay)
		defer t.Stop()
		select {
		case <-t.C:
			a.sendTyping(chat)
		case <-quit:
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

func (a *Adapter) sendTyping(chat int64) {
	ctx, cancel := context.WithTimeout(a.workCtx, 5*time.Second)
	defer cancel()
	_, err := a.tg.SendChatAction(ctx, &tgbot.SendChatActionParams{ChatID: chat, Action: models.ChatActionTyping})
	if err != nil {
		a.log.LogAttrs(ctx, slog.LevelDebug, "telegram.typing_failed", a.chatAttr(chat), slog.String("error", a.redact(err).Error()))
	}
}

// markChosen edits the message whose button was pressed: its keyboard is
// removed and "✓ <label>" appended, so the conversation shows what was
// chosen and old buttons cannot be pressed again. Failures are logged and
// ignored: the turn's replies matter more.
func (a *Adapter) markChosen(u *models.Update, m *models.Message, data string) {
	if m == nil || m.ReplyMarkup == nil || len(m.ReplyMarkup.InlineKeyboard) == 0 {
		return
	}
	label := ""
	for _, row := range m.ReplyMarkup.InlineKeyboard {
		for _, b := range row {
			if b.CallbackData == data {
				label = b.Text
			}
		}
	}
	ctx := a.workCtx
	text := m.Text
	edited := text + "\n\n✓ " + label
	var err error
	if text == "" || label == "" || utf16Len(edited) > maxMessage {
		err = a.call(ctx, "editMessageReplyMarkup", m.Chat.ID, policy{transient: 1, tooMany: 1}, func(ctx context.Context) error {
			_, err := a.tg.EditMessageReplyMarkup(ctx, &tgbot.EditMessageReplyMarkupParams{ChatID: m.Chat.ID, MessageID: m.ID, ReplyMarkup: emptyKeyboard})
			return err
		})
	} else {
		err = a.editText(ctx, m.Chat.ID, m.ID, edited)
	}
	if err != nil && !isNotModified(err) {
		a.log.LogAttrs(ctx, slog.LevelWarn, "telegram.mark_choice_failed", slog.Int64("update_id", u.ID),
			a.chatAttr(m.Chat.ID), slog.String("error", err.Error()))
	}
}

// noticeGroup tells a group chat, once per process, that the bot works
// only in private chats; everything else from groups is ignored.
func (a *Adapter) noticeGroup(u *models.Update, chat int64) {
	a.mu.Lock()
	if a.told[chat] {
		a.mu.Unlock()
		a.ignored(u, chat, "group")
		return
	}
	if len(a.told) >= maxRemembered {
		clear(a.told)
	}
	a.told[chat] = true
	a.mu.Unlock()
	a.log.LogAttrs(a.workCtx, slog.LevelInfo, "telegram.group_notice", slog.Int64("update_id", u.ID), a.chatAttr(chat))
	if err := a.sendText(a.workCtx, chat, a.groupNotice, nil, policy{transient: 2, tooMany: 2}, nil); err != nil {
		a.log.LogAttrs(a.workCtx, slog.LevelWarn, "telegram.send_failed", slog.Int64("update_id", u.ID),
			a.chatAttr(chat), slog.String("error", err.Error()))
	}
}

// maxRemembered bounds the in-memory sets of chats (groups told,
// unreachable chats); past it they start over.
const maxRemembered = 10000

func (a *Adapter) ignored(u *models.Update, chat int64, why string) {
	a.log.LogAttrs(a.workCtx, slog.LevelDebug, "telegram.ignored", slog.Int64("update_id", u.ID),
		a.chatAttr(chat), slog.String("kind", why))
}
