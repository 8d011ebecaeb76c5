package accounts

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file decodes the YAML files of this package (the config and
// exemptions files) into their structs, and turns yaml.v3's problems with
// a file into messages that name the line, the field and what is wanted.

// decode decodes data, the file what at path, into v, refusing fields v
// does not have, and returns where each value of it is. Problems of shape
// (unknown or repeated fields, wrong types) are reported alone: checking
// the values read around them would only add confusing follow-up problems.
func decode(what, path string, data []byte, v any) (*source, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse %s %s: %w", what, path, err)
	}
	src := &source{path: path, what: what, lines: map[string]int{}}
	if len(doc.Content) > 0 { // a file of only comments has no document
		src.walk("", doc.Content[0])
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(v)
	var typeErr *yaml.TypeError
	switch {
	case err == nil, errors.Is(err, io.EOF):
	case errors.As(err, &typeErr):
		src.explain(typeErr, reflect.TypeOf(v))
	default:
		return nil, fmt.Errorf("parse %s %s: %w", what, path, err)
	}
	if err := src.err(); err != nil {
		return nil, err
	}
	return src, nil
}

// source is a YAML file: the line of each value, by its path
// (accounts[1].role_arn), and the problems found in it.
type source struct {
	path     string
	what     string // config file, for messages about the whole file
	lines    map[string]int
	values   []value // in file order, for explain
	keys     []value // mapping keys, at the path of their mapping
	problems []problem
}

// value is a node of the file; n has aliases resolved, line is where the
// value (or the alias) is written.
type value struct {
	path string
	n    *yaml.Node
	line int
}

type problem struct {
	line int // 0 when unknown
	err  error
}

// walk records n, at path, and what it holds, and reports every repeated
// key: the decoder reports only the first, and reads nothing more of a
// mapping that has one, so its other problems show once that is fixed.
// walk does not follow aliases into what they name: that was walked where
// it is written, and following them would repeat it, or never end.
func (s *source) walk(path string, n *yaml.Node) {
	s.lines[path] = n.Line
	if n.Kind == yaml.AliasNode {
		s.values = append(s.values, value{path, n.Alias, n.Line})
		return
	}
	s.values = append(s.values, value{path, n, n.Line})
	switch n.Kind {
	case yaml.SequenceNode:
		for i, c := range n.Content {
			s.walk(fmt.Sprintf("%s[%d]", path, i), c)
		}
	case yaml.MappingNode:
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if seen[k.Value] {
				s.problems = append(s.problems, problem{k.Line, fmt.Errorf("field %q is set twice %s", k.Value, in(path))})
				continue
			}
			seen[k.Value] = true
			s.keys = append(s.keys, value{path, k, k.Line})
			s.walk(strings.TrimPrefix(path+"."+k.Value, "."), n.Content[i+1])
		}
	}
}

var (
	unknownFieldRE = regexp.MustCompile(`^line (\d+): field (.*) not found in type (.*)$`)
	wrongTypeRE    = regexp.MustCompile("^line (\\d+): cannot unmarshal (!!\\w+)(?: `.*`)? into (.*)$")
)

// explain turns the decoder's problems with the file, which decodes into
// t, into ones a user can act on: an unknown field gets the fields valid
// there, a value of the wrong type its path. Repeated keys walk has
// reported already.
func (s *source) explain(typeErr *yaml.TypeError, t reflect.Type) {
	used := map[int]bool{} // indices in s.values
	for _, msg := range typeErr.Errors {
		if m := unknownFieldRE.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			if i := slices.IndexFunc(s.keys, func(k value) bool {
				mt := typeAt(t, k.path) // through an alias, the key may be elsewhere
				return k.line == line && k.n.Value == m[2] && mt != nil && mt.String() == m[3]
			}); i >= 0 {
				fields := yamlFields(typeAt(t, s.keys[i].path))
				s.problems = append(s.problems, problem{line, fmt.Errorf("unknown field %q %s; valid fields: %s", m[2], in(s.keys[i].path), strings.Join(fields, ", "))})
				continue
			}
		}
		if m := wrongTypeRE.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			// The first value on the line, of the tag and Go type, that
			// is not explained yet: an alias makes the decoder refuse
			// what it names once for each place it is used.
			for i, v := range s.values {
				if v.n.Line != line || v.n.ShortTag() != m[2] || used[i] {
					continue
				}
				if wantType := typeAt(t, v.path); wantType != nil && wantType.String() == m[3] {
					used[i] = true
					s.problems = append(s.problems, problem{v.line, fmt.Errorf("%s: want %s, got %s", cmp.Or(v.path, s.what), want(wantType), got(v.n))})
					msg = ""
					break
				}
			}
		}
		if msg != "" && !strings.Contains(msg, " already defined at line ") {
			line, rest, _ := strings.Cut(strings.TrimPrefix(msg, "line "), ": ")
			n, _ := strconv.Atoi(line)
			s.problems = append(s.problems, problem{n, errors.New(rest)})
		}
	}
}

var pathRE = regexp.MustCompile(`\[\d+\]|[^.[]+`)

// typeAt returns the Go type, pointers removed, that the value at path
// decodes into when the file decodes into t, or nil if there is none.
func typeAt(t reflect.Type, path string) reflect.Type {
	for _, step := range pathRE.FindAllString(path, -1) {
		switch t = indirect(t); {
		case strings.HasPrefix(step, "[") && t.Kind() == reflect.Slice:
			t = t.Elem()
		case t.Kind() == reflect.Struct:
			i := slices.IndexFunc(reflect.VisibleFields(t), func(f reflect.StructField) bool { return yamlName(f) == step })
			if i < 0 {
				return nil
			}
			t = t.Field(i).Type
		default:
			return nil
		}
	}
	return indirect(t)
}

func indirect(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

// yamlFields returns the fields of t as the file names them.
func yamlFields(t reflect.Type) []string {
	var names []string
	for _, f := range reflect.VisibleFields(t) {
		if name := yamlName(f); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// want says what a value of Go type t is in YAML's terms, which the user
// wrote.
func want(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "a list"
	case reflect.Struct:
		return fmt.Sprintf("a mapping (%s)", strings.Join(yamlFields(t), ", "))
	case reflect.String:
		return "a string"
	}
	return t.String()
}

func got(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}

func in(path string) string {
	if path == "" {
		return "at the top level"
	}
	return "in " + path
}

// line returns the line of the value at path, or of the nearest value that
// holds it (the account of a missing field) short of the whole file, or 0
// if there is none. The line of the whole file is that of path "".
func (s *source) line(path string) int {
	for {
		if line, ok := s.lines[path]; ok {
			return line
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return 0
		}
		path = path[:i]
	}
}

// add reports a problem with the value at path.
func (s *source) add(path, format string, args ...any) {
	s.problems = append(s.problems, problem{s.line(path), fmt.Errorf(format, args...)})
}

// err lists the problems in file order, the order a user fixes them in.
func (s *source) err() error {
	slices.SortStableFunc(s.problems, func(a, b problem) int { return cmp.Compare(a.line, b.line) })
	errs := make([]error, len(s.problems))
	for i, p := range s.problems {
		where := s.path
		if p.line > 0 {
			where = fmt.Sprintf("%s:%d", s.path, p.line)
		}
		errs[i] = fmt.Errorf("%s: %w", where, p.err)
	}
	return errors.Join(errs...)
}
