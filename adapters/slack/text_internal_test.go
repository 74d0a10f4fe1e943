package slack

import "testing"

// TestPlainText: what a participant reads of a staff member's Slack text.
func TestPlainText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Hi there", "Hi there"},
		{"Call us at <tel:+12065550142|(206) 555-0142>", "Call us at (206) 555-0142 (tel:+12065550142)"},
		{"See <https://example.org/iop>", "See https://example.org/iop"},
		{"See <https://example.org/iop|our page>", "See our page (https://example.org/iop)"},
		{"Write to <mailto:intake@example.org|intake@example.org>", "Write to intake@example.org"},
		{"<@U123> will call you", "a colleague will call you"},
		{"<@U123|sam> will call you", "@sam will call you"},
		{"in <#C123|intake>", "in #intake"},
		{"<!here> hello", "@here hello"},
		{"at <!date^1700000000^{time}|10:13 PM>", "at 10:13 PM"},
		{"1 &lt; 2 &amp;&amp; 3 &gt; 2", "1 < 2 && 3 > 2"},
		{"  spaced  ", "spaced"},
	} {
		if got := plainText(tc.in); got != tc.want {
			t.Errorf("plainText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestEscape: a participant's text can never page or link in Slack.
func TestEscape(t *testing.T) {
	if got := esc("<!channel> & <@U1> <https://x|y>"); got != "&lt;!channel&gt; &amp; &lt;@U1&gt; &lt;https://x|y&gt;" {
		t.Errorf("esc = %q", got)
	}
	if got := clip("abcdef", 4); got != "abc…" {
		t.Errorf("clip = %q", got)
	}
}
