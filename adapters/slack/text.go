package slack

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// esc escapes text for Slack mrkdwn: &, < and > are control characters
// (a participant's "<!channel>" must not page anyone).
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// clip shortens s to at most n runes, with an ellipsis.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

var entityRE = regexp.MustCompile(`<([^<>]*)>`)

// plainText turns a Slack message's text into what a participant should
// read: links become their label and address, mentions of colleagues and
// channels become plain words (never a Slack id), and Slack's escapes are
// undone.
func plainText(s string) string {
	s = entityRE.ReplaceAllStringFunc(s, func(m string) string {
		inner := m[1 : len(m)-1]
		target, label, hasLabel := strings.Cut(inner, "|")
		switch {
		case strings.HasPrefix(target, "@"):
			if hasLabel && label != "" {
				return "@" + label
			}
			return "a colleague"
		case strings.HasPrefix(target, "#"):
			if hasLabel && label != "" {
				return "#" + label
			}
			return "a channel"
		case strings.HasPrefix(target, "!"):
			switch {
			case strings.HasPrefix(target, "!date^") && hasLabel:
				return label
			case target == "!here", target == "!channel", target == "!everyone":
				return "@" + target[1:]
			}
			if hasLabel {
				return label
			}
			return ""
		case strings.HasPrefix(target, "mailto:"):
			return strings.TrimPrefix(target, "mailto:")
		case hasLabel && label != "" && label != target:
			return label + " (" + target + ")"
		}
		return target
	})
	s = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
	return strings.TrimSpace(s)
}
