package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/knot-dev/knot/shared"
)

// Options says where Load finds values.
type Options struct {
	// File names the configuration file. Empty means the file named by
	// KNOT_CONFIG, else ./knot.yaml when it exists, else none (defaults,
	// environment and flags only).
	File string
	// Flags holds the flags set on the command line, by flag name (Key.Flag)
	// without dashes. List values are comma-separated.
	Flags map[string]string
	// LegacyFlags holds flags of knot's predecessor that the command
	// declares as the predecessor's, by name without dashes: they are read
	// through the table of its names even where knot has a flag of that
	// name (knot agent --use-tls is the predecessor agent's, not
	// server.tls.use_tls).
	LegacyFlags map[string]string
	// Env looks up an environment variable; nil means os.LookupEnv.
	Env func(name string) (string, bool)
	// Hostname returns the host name for the default location; nil means
	// os.Hostname.
	Hostname func() (string, error)
}

// EnvConfig names the variable that names the configuration file.
const EnvConfig = "KNOT_CONFIG"

// DefaultFile is read when no file is named and it exists.
const DefaultFile = "knot.yaml"

// MaxFileSize is the largest configuration file Load reads.
const MaxFileSize = 1 << 20

// maxErrors caps the problems reported at once.
const maxErrors = 50

// Load reads the configuration: defaults, then the file, then KNOT_*
// variables, then flags, each overriding the one before. Every value from
// every source is checked. On any problem Load returns nil and an Errors
// naming each key, where it was set and what is wrong.
func Load(opts Options) (*Config, error) {
	if opts.Env == nil {
		opts.Env = os.LookupEnv
	}
	l := newLoader(&opts)
	name, data := l.readFile()
	if data != nil {
		l.decodeFile(name, data)
	}
	return l.finish(name)
}

// Parse reads the configuration from the contents of a file named name,
// over defaults, without looking at the environment or flags.
func Parse(name string, data []byte) (*Config, error) {
	opts := Options{Env: func(string) (string, bool) { return "", false }}
	l := newLoader(&opts)
	l.decodeFile(name, data)
	return l.finish(name)
}

type setting struct {
	val any
	src Source
}

type loader struct {
	opts *Options
	errs Errors
	// warns are the names of the predecessor's that were accepted.
	warns []Warning
	// values set by each source, by key path
	file, env, flag map[string]setting
}

func newLoader(opts *Options) *loader {
	return &loader{
		opts: opts,
		file: map[string]setting{},
		env:  map[string]setting{},
		flag: map[string]setting{},
	}
}

func (l *loader) fail(keyPath string, src Source, format string, args ...any) {
	if len(l.errs) < maxErrors {
		l.errs = append(l.errs, &Error{Key: keyPath, Source: src, Problem: fmt.Sprintf(format, args...)})
	}
}

// bad records a value that did not parse, quoting it unless it is secret.
func (l *loader) bad(k *key, src Source, raw string, err error) {
	if k.secret || k.typ.kind == ValueList {
		l.fail(k.path, src, "%v", err)
		return
	}
	l.fail(k.path, src, "%q %v", raw, err)
}

// readFile finds and reads the configuration file. It returns data == nil
// when there is none to read.
func (l *loader) readFile() (string, []byte) {
	name, src := l.opts.File, Source{Kind: SourceFlag, Name: "config"}
	if name == "" {
		if v, ok := l.opts.Env(EnvConfig); ok && v != "" {
			name, src = v, Source{Kind: SourceEnv, Name: EnvConfig}
		}
	}
	named := name != ""
	if !named {
		name, src = DefaultFile, Source{Kind: SourceFile, Name: DefaultFile}
	}
	f, err := os.Open(name)
	if err != nil {
		if !named && errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		l.fail("", src, "cannot read config file: %v", err)
		return "", nil
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		l.fail("", src, "config file %s is a directory", name)
		return "", nil
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		l.fail("", src, "cannot read config file: %v", err)
		return "", nil
	}
	if len(data) > MaxFileSize {
		l.fail("", Source{Kind: SourceFile, Name: name}, "config file is larger than %d bytes", MaxFileSize)
		return "", nil
	}
	if data == nil {
		data = []byte{}
	}
	return name, data
}

var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a YAML syntax error into a problem at its line.
func (l *loader) yamlError(name string, err error) {
	msg := err.Error()
	line := 0
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	l.fail("", Source{Kind: SourceFile, Name: name, Line: line}, "not valid YAML: %s", msg)
}

// decodeYAML parses data into documents, turning a panic of the parser into
// an error.
func decodeYAML(data []byte) (docs []*yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			docs, err = nil, fmt.Errorf("yaml: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for len(docs) < 2 {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return docs, nil
			}
			return docs, err
		}
		docs = append(docs, &n)
	}
	return docs, nil
}

func (l *loader) decodeFile(name string, data []byte) {
	at := func(n *yaml.Node) Source {
		return Source{Kind: SourceFile, Name: name, Line: n.Line, Column: n.Column}
	}
	docs, err := decodeYAML(data)
	if err != nil {
		l.yamlError(name, err)
		return
	}
	if len(docs) == 0 {
		return
	}
	if len(docs) > 1 {
		l.fail("", at(docs[1]), "the file holds more than one YAML document")
		return
	}
	root := docs[0]
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return
		}
		root = root.Content[0]
	}
	root = resolveAlias(root)
	if root == nil || isNull(root) {
		return
	}
	if root.Kind != yaml.MappingNode {
		l.fail("", at(root), "the file must be a mapping of sections, such as \"server:\"")
		return
	}
	l.decodeSection(name, "", root, map[string]int{})
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 8; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// decodeSection reads the keys of a mapping whose path is prefix.
func (l *loader) decodeSection(name, prefix string, m *yaml.Node, seen map[string]int) {
	at := func(n *yaml.Node) Source {
		return Source{Kind: SourceFile, Name: name, Line: n.Line, Column: n.Column}
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn, vn := m.Content[i], resolveAlias(m.Content[i+1])
		if kn.Kind != yaml.ScalarNode || kn.Value == "" {
			l.fail(strings.TrimSuffix(prefix, "."), at(kn), "keys must be plain names")
			continue
		}
		path := prefix + kn.Value
		if first, dup := seen[path]; dup {
			l.fail(path, at(kn), "is set twice (first on line %d)", first)
			continue
		}
		seen[path] = kn.Line
		if vn == nil {
			l.fail(path, at(kn), "has an alias that does not resolve")
			continue
		}
		if isSection(path) || isLegacySection(path) {
			switch {
			case isNull(vn):
			case vn.Kind == yaml.MappingNode:
				l.decodeSection(name, path+".", vn, seen)
			default:
				l.fail(path, at(vn), "must be a section of keys, not %s", describe(vn))
			}
			continue
		}
		k := findKey(path)
		if k == nil && findLegacy(path) != nil {
			l.noEffect(findLegacy(path), path, at(kn))
			continue
		}
		if k == nil {
			l.fail(path, at(kn), "unknown key%s", suggest(path))
			continue
		}
		l.decodeValue(k, vn, at(vn))
	}
}

// describe names the shape of a node for an error.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	if isNull(n) {
		return "empty"
	}
	return strconv.Quote(n.Value)
}

// suggest names the keys whose last element matches the unknown path's.
func suggest(path string) string {
	last := path[strings.LastIndexByte(path, '.')+1:]
	var found []string
	for i := range keys {
		if keys[i].name() == last || keys[i].path == "server."+path {
			found = append(found, keys[i].path)
		}
	}
	for _, s := range sections {
		if s.path == "server."+path {
			found = append(found, s.path)
		}
	}
	if len(found) == 0 {
		section := ""
		if i := strings.LastIndexByte(path, '.'); i >= 0 {
			section = path[:i]
		}
		for i := range keys {
			k := &keys[i]
			if k.section() == section && distance(k.name(), last) <= 2 {
				found = append(found, k.path)
			}
		}
	}
	if len(found) == 0 {
		return ""
	}
	return " (did you mean " + strings.Join(found, " or ") + "?)"
}

func (l *loader) decodeValue(k *key, n *yaml.Node, src Source) {
	if isNull(n) {
		return // "key:" with no value leaves the default
	}
	var (
		v   any
		err error
		raw string
	)
	switch k.typ.kind {
	case ValueList:
		if n.Kind != yaml.SequenceNode {
			l.fail(k.path, src, "must be a list, not %s", describeSecret(k, n))
			return
		}
		items := make([]string, 0, len(n.Content))
		for _, it := range n.Content {
			it = resolveAlias(it)
			if it == nil || it.Kind != yaml.ScalarNode || isNull(it) {
				l.fail(k.path, src, "every item must be a single value")
				return
			}
			items = append(items, it.Value)
		}
		v, err = k.typ.parseItems(items)
	default:
		if n.Kind != yaml.ScalarNode {
			l.fail(k.path, src, "must be a single value, not %s", describe(n))
			return
		}
		raw = n.Value
		switch k.typ.kind {
		case ValueBool:
			if n.ShortTag() != "!!bool" {
				l.fail(k.path, src, "must be true or false%s, not %s", unquote(k, n), describeSecret(k, n))
				return
			}
			v, err = k.typ.parse(raw)
		case ValueInt:
			if n.ShortTag() != "!!int" {
				l.fail(k.path, src, "must be a whole number%s, not %s", unquote(k, n), describeSecret(k, n))
				return
			}
			v, err = k.typ.parseInt(raw)
		default:
			if raw == "" && k.required {
				l.fail(k.path, src, "must not be empty")
				return
			}
			v, err = k.typ.parseString(raw)
		}
	}
	if err != nil {
		l.bad(k, src, raw, err)
		return
	}
	l.file[k.path] = setting{val: v, src: src}
}

// unquote returns " without quotes" when n is a quoted string that would
// be a valid value for k unquoted.
func unquote(k *key, n *yaml.Node) string {
	if n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) == 0 {
		return ""
	}
	if _, err := k.typ.parse(n.Value); err != nil {
		return ""
	}
	return " without quotes"
}

func describeSecret(k *key, n *yaml.Node) string {
	if k.secret && n.Kind == yaml.ScalarNode {
		return "this value"
	}
	return describe(n)
}

// parseText reads a value given as text by the environment or a flag.
func (l *loader) parseText(k *key, src Source, text string, into map[string]setting) {
	if k.typ.kind == ValueString && text == "" && k.required {
		l.fail(k.path, src, "must not be empty")
		return
	}
	v, err := k.typ.parse(text)
	if err != nil {
		l.bad(k, src, text, err)
		return
	}
	into[k.path] = setting{val: v, src: src}
}

func (l *loader) readEnv() {
	for i := range keys {
		k := &keys[i]
		name := k.envName()
		if text, ok := l.opts.Env(name); ok && text != "" {
			l.parseText(k, Source{Kind: SourceEnv, Name: name}, text, l.env)
		}
	}
	l.readLegacyEnv()
}

func (l *loader) readFlags() {
	byFlag := make(map[string]*key, len(keys))
	for i := range keys {
		byFlag[keys[i].flagName()] = &keys[i]
	}
	for _, name := range sortedFlags(l.opts.Flags) {
		text := l.opts.Flags[name]
		src := Source{Kind: SourceFlag, Name: name}
		k := byFlag[name]
		if k == nil {
			if !l.legacyFlag(name, text) {
				l.fail("", src, "unknown flag")
			}
			continue
		}
		l.parseText(k, src, text, l.flag)
	}
	for _, name := range sortedFlags(l.opts.LegacyFlags) {
		if !l.legacyFlag(name, l.opts.LegacyFlags[name]) {
			l.fail("", Source{Kind: SourceFlag, Name: name}, "unknown flag")
		}
	}
}

// finish reads the environment and flags, merges every source over the
// defaults and checks the keys that depend on each other.
func (l *loader) finish(file string) (*Config, error) {
	l.readEnv()
	l.readFlags()

	c := &Config{File: file, Warnings: l.warns}
	srcs := make(map[string]Source, len(keys))
	for i := range keys {
		k := &keys[i]
		s, ok := l.flag[k.path]
		if !ok {
			s, ok = l.env[k.path]
		}
		if !ok {
			s, ok = l.file[k.path]
		}
		if !ok {
			s = setting{src: Source{Kind: SourceDefault}}
			if text := k.defaultText(l.opts); text != "" {
				v, err := k.typ.parse(text)
				if err != nil {
					l.fail(k.path, s.src, "%q %v", text, err)
					continue
				}
				s.val = v
			}
		}
		srcs[k.path] = s.src
		if s.val != nil {
			assign(k, c, s.val)
		}
	}
	l.crossCheck(c, srcs)
	if len(l.errs) > 0 {
		return nil, l.errs
	}
	return c, nil
}

// assign stores v in k's field of c.
func assign(k *key, c *Config, v any) {
	switch p := k.field(c).(type) {
	case *string:
		*p = v.(string)
	case *bool:
		*p = v.(bool)
	case *int:
		*p = v.(int)
	case *[]string:
		*p = v.([]string)
	default:
		panic("config: key " + k.path + " has a field of an unknown type")
	}
}

func (l *loader) crossCheck(c *Config, srcs map[string]Source) {
	type store struct {
		path string
		on   bool
	}
	var enabled []string
	for _, s := range []store{
		{"server.mysql.enabled", c.Server.MySQL.Enabled},
		{"server.badgerdb.enabled", c.Server.BadgerDB.Enabled},
		{"server.redis.enabled", c.Server.Redis.Enabled},
		{"server.memorydb.enabled", c.Server.MemoryDB.Enabled},
	} {
		if s.on {
			enabled = append(enabled, s.path)
		}
	}
	if len(enabled) > 1 {
		var where []string
		for _, p := range enabled {
			where = append(where, fmt.Sprintf("%s (%s)", p, srcs[p]))
		}
		last := enabled[len(enabled)-1]
		all := "both"
		if len(where) > 2 {
			all = "all"
		}
		list := strings.Join(where[:len(where)-1], ", ") + " and " + where[len(where)-1]
		l.fail(last, srcs[last], "only one storage may be enabled, but %s are %s true", list, all)
	}
	if c.Server.OriginServer != "" && c.Server.SharedToken == "" {
		p := "server.origin_server"
		l.fail(p, srcs[p], "is set but server.shared_token is not: a leaf needs the origin's shared token (or a leaf or API token) to connect")
	}
	if _, ok := shared.LocationOwner(c.Server.Location); ok && c.Server.OriginServer == "" {
		p := "server.location"
		l.fail(p, srcs[p], "is a restricted location, which only a leaf on that user's API token serves: a standalone server or an origin needs a plain name")
	}
	l.crossCheckTLS(c, srcs)
	if c.Server.Redis.Enabled && len(c.Server.Redis.Hosts) == 0 {
		p := "server.redis.hosts"
		l.fail(p, srcs[p], "is empty but server.redis.enabled is true")
	}
}

// defaultLocation returns the short host name, made to fit a location.
func defaultLocation(o *Options) string {
	hostname := o.Hostname
	if hostname == nil {
		hostname = os.Hostname
	}
	h, err := hostname()
	if err != nil {
		return "local"
	}
	h, _, _ = strings.Cut(h, ".")
	var b strings.Builder
	for _, r := range h {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	loc := strings.TrimLeft(b.String(), "-_")
	if len(loc) > 64 {
		loc = loc[:64]
	}
	if loc == "" {
		return "local"
	}
	return loc
}

// distance returns the Levenshtein distance of a and b, for suggestions.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
