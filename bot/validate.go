package bot

import (
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"github.com/olebedev/when"
	"github.com/olebedev/when/rules/en"

	"intakebot/flows"
)

// validate checks a typed answer to an ask step. It returns the normalized
// answer, or a non-empty problem to say to the person.
func (t *turn) validate(st *flows.Step, text string) (Answer, string) {
	m := t.spec.Messages
	switch st.Validate {
	case flows.ValidateName:
		if name, ok := validName(text, st.MaxLen); ok {
			return Answer{Value: name, Display: name}, ""
		}
		return Answer{}, m.InvalidName
	case flows.ValidatePhone:
		if e164, display, ok := validPhone(text); ok {
			return Answer{Value: e164, Display: display}, ""
		}
		return Answer{}, m.InvalidPhone
	case flows.ValidateEmail:
		if addr, ok := validEmail(text); ok {
			return Answer{Value: addr, Display: addr}, ""
		}
		return Answer{}, m.InvalidEmail
	case flows.ValidateZIP:
		if zip, ok := validZIP(text); ok {
			return Answer{Value: zip, Display: zip}, ""
		}
		return Answer{}, m.InvalidZIP
	case flows.ValidateDate:
		d, ok := parseDate(text, t.now.In(t.e.loc))
		if !ok {
			return Answer{}, m.InvalidDate
		}
		today := dateOnly(t.now.In(t.e.loc))
		if d.Before(today) {
			return Answer{}, m.InvalidPast
		}
		return Answer{Value: d.Format("2006-01-02"), Display: d.Format("Mon, Jan 2, 2006")}, ""
	default:
		max := st.MaxLen
		if max <= 0 {
			max = 500
		}
		s := strings.TrimSpace(text)
		if s == "" || !hasWordChar(s) {
			return Answer{}, m.InvalidText
		}
		s = truncateRunes(s, max)
		return Answer{Value: s, Display: s}, ""
	}
}

var namePrefix = regexp.MustCompile(`(?i)^(hi|hello|hey)?[ ,!.]*(my name is|my name's|name is|i am|i'm|im|it's|its|this is|call me|you can call me)\s+`)

// validName accepts a person's name: letters with spaces, hyphens,
// apostrophes and periods, at most five words, no digits. "My name is Ana"
// gives "Ana".
func validName(text string, max int) (string, bool) {
	if max <= 0 {
		max = 80
	}
	s := strings.TrimSpace(namePrefix.ReplaceAllString(strings.TrimSpace(text), ""))
	s = strings.TrimRight(s, ".!")
	if s == "" || utf8.RuneCountInString(s) > max || len(strings.Fields(s)) > 5 {
		return "", false
	}
	letters := 0
	for _, r := range s {
		switch {
		case unicode.IsLetter(r):
			letters++
		case r == ' ' || r == '-' || r == '\'' || r == '’' || r == '.':
		default:
			return "", false
		}
	}
	if letters < 1 {
		return "", false
	}
	return strings.Join(strings.Fields(s), " "), true
}

// validPhone accepts a US phone number in any common format and returns it
// in E.164 and in national format.
func validPhone(text string) (e164, display string, ok bool) {
	digits := 0
	for _, r := range text {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	if digits < 10 || digits > 15 {
		return "", "", false
	}
	num, err := phonenumbers.Parse(text, "US")
	if err != nil {
		return "", "", false
	}
	if num.GetCountryCode() != 1 || !phonenumbers.IsPossibleNumber(num) || !validUSNumber(num) {
		return "", "", false
	}
	return phonenumbers.Format(num, phonenumbers.E164), phonenumbers.Format(num, phonenumbers.NATIONAL), true
}

// validUSNumber accepts what libphonenumber calls valid, and also the
// 555-01XX numbers reserved for fiction, so examples and tests never use a
// real person's number.
func validUSNumber(num *phonenumbers.PhoneNumber) bool {
	if phonenumbers.IsValidNumber(num) {
		return true
	}
	n := strconv.FormatUint(num.GetNationalNumber(), 10)
	return len(n) == 10 && n[0] >= '2' && n[3:6] == "555" && n[6:8] == "01"
}

var emailRe = regexp.MustCompile(`^[^@\s]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}$`)

// validEmail accepts one plain email address and returns it in lower case.
func validEmail(text string) (string, bool) {
	s := strings.TrimSpace(text)
	if f := strings.Fields(s); len(f) > 1 {
		// "it's ana@example.com": take the word with an @.
		s = ""
		for _, w := range f {
			if strings.Contains(w, "@") {
				if s != "" {
					return "", false
				}
				s = strings.Trim(w, ".,;:()<>")
			}
		}
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || !emailRe.MatchString(s) || len(s) > 254 {
		return "", false
	}
	return strings.ToLower(s), true
}

var zipRe = regexp.MustCompile(`^\d{5}(?:-\d{4})?$`)

func validZIP(text string) (string, bool) {
	s := strings.TrimSpace(text)
	if !zipRe.MatchString(s) {
		return "", false
	}
	return s[:5], true
}

var slashDate = regexp.MustCompile(`^(\d{1,2})[/\-.](\d{1,2})(?:[/\-.](\d{2}|\d{4}))?$`)

var dateParser = func() *when.Parser {
	w := when.New(nil)
	w.Add(en.All...)
	return w
}()

// parseDate reads a date in the forms people type: "12/3", "12/3/2026",
// "tomorrow", "next Monday", "December 3rd". A month/day without a year
// that has passed this year means next year.
func parseDate(text string, now time.Time) (time.Time, bool) {
	s := strings.ToLower(strings.TrimSpace(text))
	today := dateOnly(now)
	switch s {
	case "today", "now", "asap", "as soon as possible", "right away", "immediately":
		return today, true
	}
	if m := slashDate.FindStringSubmatch(s); m != nil {
		mon, _ := strconv.Atoi(m[1])
		day, _ := strconv.Atoi(m[2])
		year := now.Year()
		explicit := m[3] != ""
		if explicit {
			year, _ = strconv.Atoi(m[3])
			if year < 100 {
				year += 2000
			}
		}
		if mon < 1 || mon > 12 || day < 1 || day > 31 {
			return time.Time{}, false
		}
		d := time.Date(year, time.Month(mon), day, 0, 0, 0, 0, now.Location())
		if d.Month() != time.Month(mon) {
			return time.Time{}, false
		}
		if !explicit && d.Before(today) {
			d = d.AddDate(1, 0, 0)
		}
		return d, true
	}
	r, err := dateParser.Parse(s, now)
	if err != nil || r == nil {
		return time.Time{}, false
	}
	// Text around the date must be small: "next monday" or "maybe next
	// monday", not a sentence that happens to contain "monday".
	if len(strings.Fields(s))-len(strings.Fields(r.Text)) > 3 {
		return time.Time{}, false
	}
	return dateOnly(r.Time), true
}

func dateOnly(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
}
