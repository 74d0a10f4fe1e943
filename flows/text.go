package flows

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
)

// placeholderRe finds {scope.name} placeholders in texts.
var placeholderRe = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z0-9_]+))?\}`)

// noTextFields are fields whose strings are identifiers, conditions or
// matcher input rather than text shown to a person.
var noTextFields = map[string]bool{
	"id": true, "if": true, "next": true, "goto": true, "kind": true, "field": true,
	"validate": true, "start": true, "instrument": true, "default": true, "level": true,
	"urgency": true, "action": true, "other": true, "fields": true, "followups": true,
	"questions": true, "keywords": true, "phrases": true, "patterns": true, "benign": true,
	"synonyms": true, "group": true, "timezone": true, "version": true, "lists": true, "fillers": true,
	"typos": true, "spellings": true,
}

// eachText calls fn with the YAML path and a pointer to every string in v
// that is text for a person.
func eachText(rv reflect.Value, path string, fn func(path string, s *string)) {
	switch rv.Kind() {
	case reflect.Pointer:
		if !rv.IsNil() {
			eachText(rv.Elem(), path, fn)
		}
	case reflect.Struct:
		rt := rv.Type()
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" || noTextFields[tag] {
				continue
			}
			p := tag
			if path != "" {
				p = path + "." + tag
			}
			eachText(rv.Field(i), p, fn)
		}
	case reflect.Slice:
		for i := 0; i < rv.Len(); i++ {
			eachText(rv.Index(i), fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case reflect.Map:
		if rv.Type().Elem().Kind() != reflect.String {
			return
		}
		keys := rv.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			s := rv.MapIndex(k).String()
			fn(path+"."+k.String(), &s)
			rv.SetMapIndex(k, reflect.ValueOf(s))
		}
	case reflect.String:
		if rv.CanAddr() {
			fn(path, rv.Addr().Interface().(*string))
		}
	}
}

// programValues returns the value of every {program.*} placeholder.
func programValues(p Program) map[string]string {
	vals := map[string]string{}
	rv := reflect.ValueOf(p)
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		tag := strings.Split(rt.Field(i).Tag.Get("yaml"), ",")[0]
		if fv := rv.Field(i); fv.Kind() == reflect.String {
			vals[tag] = strings.TrimSpace(fv.String())
		}
	}
	vals["virtual_states"] = strings.Join(p.VirtualStates, ", ")
	vals["tracks"] = strings.Join(p.Tracks, ", ")
	var sites []string
	for _, s := range p.Sites {
		line := "• " + s.Name
		if s.Address != "" {
			line += ", " + s.Address
		}
		if len(s.Formats) > 0 {
			line += " (" + strings.Join(s.Formats, ", ") + ")"
		}
		sites = append(sites, line)
	}
	vals["sites"] = strings.Join(sites, "\n")
	if vals["short_name"] == "" {
		vals["short_name"] = vals["name"]
	}
	return vals
}

// checkPlaceholders reports placeholders that are unknown or not defined.
func (v *validator) checkPlaceholders() {
	vals := programValues(v.spec.Program)
	known := map[string]bool{}
	for k := range vals {
		known[k] = true
	}
	eachText(reflect.ValueOf(v.spec).Elem(), "", func(path string, s *string) {
		if strings.HasPrefix(path, "program.") {
			if strings.Contains(*s, "{") && placeholderRe.MatchString(*s) {
				v.errf(path, "program values cannot contain placeholders")
			}
			return
		}
		for _, m := range placeholderRe.FindAllStringSubmatch(*s, -1) {
			scope, name := m[1], m[2]
			switch {
			case scope == "program" && !known[name]:
				v.errf(path, "unknown placeholder %s: program has no field %q", m[0], name)
			case scope == "program" && vals[name] == "":
				v.errf(path, "placeholder %s is used but program.%s is not defined", m[0], name)
			case scope == "answer" && !strings.HasPrefix(path, "flows["):
				v.errf(path, "placeholder %s can only be used in flow steps", m[0])
			case scope == "answer" && !v.fields[name]:
				v.errf(path, "placeholder %s refers to missing field %q", m[0], name)
			case scope != "program" && scope != "answer":
				v.errf(path, "unknown placeholder %s (use {program.<field>} or {answer.<field>})", m[0])
			}
		}
	})
}

// render replaces every {program.*} placeholder with its value, once, at
// load time; {answer.*} placeholders stay for the engine.
func (v *validator) render() {
	vals := programValues(v.spec.Program)
	eachText(reflect.ValueOf(v.spec).Elem(), "", func(path string, s *string) {
		if strings.HasPrefix(path, "program.") || !strings.Contains(*s, "{program.") {
			return
		}
		*s = placeholderRe.ReplaceAllStringFunc(*s, func(m string) string {
			sub := placeholderRe.FindStringSubmatch(m)
			if sub[1] == "program" {
				return vals[sub[2]]
			}
			return m
		})
	})
}

// ProgramValues returns the program's placeholder values by name ("name",
// "phone", "hours", …), for adapters that must protect them.
func (s *Spec) ProgramValues() map[string]string { return programValues(s.Program) }

// assignLines records each located element's line for later messages.
func (s *Spec) assignLines(src *source) {
	for i := range s.FAQ {
		s.FAQ[i].Line = src.line(fmt.Sprintf("faq[%d]", i))
	}
	for i := range s.Intents {
		s.Intents[i].Line = src.line(fmt.Sprintf("intents[%d]", i))
	}
	for i := range s.Safety.Categories {
		s.Safety.Categories[i].Line = src.line(fmt.Sprintf("safety.categories[%d]", i))
	}
	for i := range s.Instruments {
		s.Instruments[i].Line = src.line(fmt.Sprintf("instruments[%d]", i))
	}
	for i := range s.Levels {
		s.Levels[i].Line = src.line(fmt.Sprintf("levels[%d]", i))
	}
	for i := range s.Flows {
		f := &s.Flows[i]
		f.Line = src.line(fmt.Sprintf("flows[%d]", i))
		for j := range f.Steps {
			f.Steps[j].Line = src.line(fmt.Sprintf("flows[%d].steps[%d]", i, j))
		}
	}
}

func sortStrings(s []string) { sort.Strings(s) }
