package flows

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	yaml "github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Problem is one thing wrong with a flows file, at a line.
type Problem struct {
	File string
	Line int
	Msg  string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Msg)
}

// ValidationError lists every problem found in a flows file, each naming its
// line, so an admin can fix them all in one pass.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Load reads and validates the flows file at path. The error is a
// *ValidationError when the file was read but its content is wrong.
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load flows: %w", err)
	}
	return Parse(path, data)
}

// Parse validates the flows content data; name is used in messages. The
// error is a *ValidationError naming the line of every problem.
func Parse(name string, data []byte) (*Spec, error) {
	src := &source{file: name, lines: map[string]int{}}
	var spec Spec
	if err := yaml.UnmarshalWithOptions(data, &spec, yaml.Strict()); err != nil {
		return nil, &ValidationError{Problems: []Problem{src.yamlProblem(err)}}
	}
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, &ValidationError{Problems: []Problem{src.yamlProblem(err)}}
	}
	for _, doc := range file.Docs {
		src.walk("", doc.Body)
	}
	spec.Path = name
	spec.assignLines(src)
	v := &validator{spec: &spec, src: src}
	v.run()
	if len(v.problems) > 0 {
		sort.SliceStable(v.problems, func(i, j int) bool { return v.problems[i].Line < v.problems[j].Line })
		return nil, &ValidationError{Problems: v.problems}
	}
	return &spec, nil
}

// source maps YAML paths ("flows[0].steps[2].next") to their line.
type source struct {
	file  string
	lines map[string]int
}

func (s *source) yamlProblem(err error) Problem {
	var yerr yaml.Error
	if errors.As(err, &yerr) {
		line := 0
		if tk := yerr.GetToken(); tk != nil && tk.Position != nil {
			line = tk.Position.Line
		}
		return Problem{File: s.file, Line: line, Msg: yerr.GetMessage()}
	}
	return Problem{File: s.file, Msg: err.Error()}
}

func (s *source) walk(path string, n ast.Node) {
	if n == nil {
		return
	}
	switch n := n.(type) {
	case *ast.MappingNode:
		if len(n.Values) > 0 {
			s.set(path, n.Values[0].Key.GetToken())
		} else {
			s.set(path, n.GetToken())
		}
		for _, mv := range n.Values {
			s.walkPair(path, mv)
		}
	case *ast.MappingValueNode:
		s.set(path, n.Key.GetToken())
		s.walkPair(path, n)
	case *ast.SequenceNode:
		s.set(path, n.GetToken())
		for i, v := range n.Values {
			s.walk(path+"["+strconv.Itoa(i)+"]", v)
		}
	case *ast.AnchorNode:
		s.walk(path, n.Value)
	case *ast.TagNode:
		s.walk(path, n.Value)
	default:
		s.set(path, n.GetToken())
	}
}

func (s *source) walkPair(path string, mv *ast.MappingValueNode) {
	key := mv.Key.String()
	p := key
	if path != "" {
		p = path + "." + key
	}
	s.set(p, mv.Key.GetToken())
	switch v := mv.Value.(type) {
	case *ast.MappingNode, *ast.SequenceNode, *ast.MappingValueNode, *ast.AnchorNode, *ast.TagNode:
		// Keep the key's line for the field itself; children get their own.
		line := s.lines[p]
		s.walk(p, v)
		s.lines[p] = line
	}
}

func (s *source) set(path string, tk *token.Token) {
	if path == "" || tk == nil || tk.Position == nil {
		return
	}
	if _, ok := s.lines[path]; !ok {
		s.lines[path] = tk.Position.Line
	}
}

// line returns the line of path, or of its nearest located parent.
func (s *source) line(path string) int {
	for path != "" {
		if l, ok := s.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}
