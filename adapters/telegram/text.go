package telegram

import (
	"html"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/go-telegram/bot/models"
)

// maxMessage is Telegram's limit on a message's text, counted as Telegram
// counts it: in UTF-16 code units after entity parsing.
const maxMessage = 4096

// utf16Len is the length of s in UTF-16 code units.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// splitText cuts s into parts of at most limit UTF-16 units, preferring,
// within the second half of each part, a paragraph break, then a line break,
// then the end of a sentence, then a space; a text with none of these is cut
// at a character boundary. Parts are trimmed; empty parts are dropped.
func splitText(s string, limit int) []string {
	s = strings.TrimSpace(s)
	var parts []string
	for utf16Len(s) > limit {
		// max is the byte offset of the longest prefix within the limit.
		max, units := 0, 0
		for max < len(s) {
			r, size := utf8.DecodeRuneInString(s[max:])
			if units+utf16.RuneLen(r) > limit {
				break
			}
			units += utf16.RuneLen(r)
			max += size
		}
		if max == 0 {
			// A limit below one character: take one anyway.
			_, max = utf8.DecodeRuneInString(s)
		}
		cut := bestCut(s[:max])
		if cut <= 0 {
			cut = max
		}
		if part := strings.TrimSpace(s[:cut]); part != "" {
			parts = append(parts, part)
		}
		s = strings.TrimSpace(s[cut:])
	}
	if s != "" {
		parts = append(parts, s)
	}
	return parts
}

// bestCut returns the byte offset in prefix after which to cut, or 0.
func bestCut(prefix string) int {
	min := len(prefix) / 2
	if i := strings.LastIndex(prefix, "\n\n"); i >= min {
		return i + 2
	}
	if i := strings.LastIndex(prefix, "\n"); i >= min {
		return i + 1
	}
	best := -1
	for _, end := range []string{". ", "! ", "? ", "… ", "; "} {
		if i := strings.LastIndex(prefix, end); i >= 0 && i+len(end) > best {
			best = i + len(end)
		}
	}
	if best >= min {
		return best
	}
	if i := strings.LastIndex(prefix, " "); i >= min {
		return i + 1
	}
	return 0
}

// format renders plain text for a parse mode: escaped so that every
// character shows as written.
func format(text string, mode models.ParseMode) string {
	switch mode {
	case models.ParseModeHTML:
		return html.EscapeString(text)
	case models.ParseModeMarkdown:
		return escapeMarkdownV2(text)
	case models.ParseModeMarkdownV1:
		return escapeMarkdownV1(text)
	default:
		return text
	}
}

// escapeMarkdownV2 escapes every MarkdownV2 special character, the
// backslash included (the library's EscapeMarkdown leaves it out).
func escapeMarkdownV2(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\_*[]()~`>#+-=|{}.!", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// escapeMarkdownV1 escapes the legacy Markdown mode's special characters.
func escapeMarkdownV1(s string) string {
	r := strings.NewReplacer("_", "\\_", "*", "\\*", "`", "\\`", "[", "\\[")
	return r.Replace(s)
}
