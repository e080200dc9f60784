package main

// The manual in docs/ is checked here, where the command-line app, the
// configuration loader and the template validation are all at hand. A
// fenced block says what it holds by its info string and, for YAML and HCL,
// by a marker comment on its first line:
//
//	```yaml  # knot.yaml                a server or client configuration
//	```yaml  # container spec           a container template's spec
//	```yaml  # container spec: refused  a spec knot refuses; the next block (```text) is the error
//	```yaml  # container volumes        a container template's volume definition
//	```yaml  # nomad volumes            a Nomad template's volume definition (parsed by runtime/nomad's tests)
//	```yaml  # template file            a file of knot template import
//	```hcl   # nomad job                a Nomad template's spec
//	```sh                               command lines; every knot command in them is checked
//
// A YAML or HCL block without a marker fails the test, so nothing that
// looks runnable goes unchecked.

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/config"
)

const docsDir = "../../docs"

// docBlock is one fenced code block of a page.
type docBlock struct {
	file   string // the page's name, such as templates.md
	line   int    // line of the opening fence
	info   string // the info string, such as yaml
	marker string // the first line when it is a "# " comment, without "# "
	body   string
}

func (b docBlock) where() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

// docPages returns the manual's pages by name.
func docPages(t *testing.T) map[string]string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(docsDir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages := map[string]string{}
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		pages[filepath.Base(n)] = string(data)
	}
	for _, want := range []string{"getting-started.md", "templates.md", "origin-and-leaves.md", "getting-into-a-space.md", "operations.md"} {
		if _, ok := pages[want]; !ok {
			t.Errorf("docs/%s is missing", want)
		}
	}
	return pages
}

var fenceRe = regexp.MustCompile("^( *)```\\s*([A-Za-z0-9_-]*)\\s*$")

// parseBlocks returns the fenced blocks of a Markdown page. A block may be
// indented (in a list item): its lines lose the fence's indentation.
func parseBlocks(file, text string) []docBlock {
	var blocks []docBlock
	var cur *docBlock
	indent := ""
	var body []string
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		m := fenceRe.FindStringSubmatch(line)
		switch {
		case cur == nil && m != nil:
			cur, indent, body = &docBlock{file: file, line: n, info: m[2]}, m[1], nil
		case cur != nil && m != nil && m[2] == "":
			cur.body = strings.Join(body, "\n") + "\n"
			if first, _, _ := strings.Cut(cur.body, "\n"); strings.HasPrefix(first, "# ") {
				cur.marker = strings.TrimSpace(first[2:])
			}
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			body = append(body, strings.TrimPrefix(line, indent))
		}
	}
	return blocks
}

func allBlocks(t *testing.T) []docBlock {
	var out []docBlock
	pages := docPages(t)
	names := make([]string, 0, len(pages))
	for n := range pages {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		out = append(out, parseBlocks(n, pages[n])...)
	}
	return out
}

// knownMarkers are the markers of checked YAML and HCL blocks, by info string.
var knownMarkers = map[string][]string{
	"yaml": {"knot.yaml", "container spec", "container spec: refused", "container volumes", "nomad volumes", "template file"},
	"hcl":  {"nomad job"},
}

func TestDocsSnippetsAreMarked(t *testing.T) {
	counts := map[string]int{}
	for _, b := range allBlocks(t) {
		known, checked := knownMarkers[b.info]
		if !checked {
			continue
		}
		if !slices.Contains(known, b.marker) {
			t.Errorf("%s: a ```%s block must start with one of the marker comments %q, so that a test checks it; it starts %q",
				b.where(), b.info, known, b.marker)
			continue
		}
		counts[b.marker]++
	}
	for _, list := range knownMarkers {
		for _, m := range list {
			if counts[m] == 0 {
				t.Errorf("the manual holds no block marked %q", m)
			}
		}
	}
}

// TestDocsConfigSnippetsLoad loads every knot.yaml of the manual as knot
// server loads its file. A snippet that spells a key the predecessor's way
// fails too: the manual uses knot's names.
func TestDocsConfigSnippetsLoad(t *testing.T) {
	n := 0
	for _, b := range allBlocks(t) {
		if b.info != "yaml" || b.marker != "knot.yaml" {
			continue
		}
		n++
		c, err := config.Parse("knot.yaml", []byte(b.body))
		if err != nil {
			t.Errorf("%s: the configuration does not load: %v\n%s", b.where(), err, b.body)
			continue
		}
		for _, w := range c.Warnings {
			t.Errorf("%s: the configuration uses a predecessor's name: %v", b.where(), w)
		}
	}
	if n == 0 {
		t.Fatal("no knot.yaml snippet found")
	}
}

// varRefRe finds the template variables a snippet uses.
var varRefRe = regexp.MustCompile(`\.var\.([A-Za-z_][A-Za-z0-9_]*)`)

// renderData is what a space of alice, started at the leaf london, sees.
func renderData(src string) *runtime.RenderData {
	vars := map[string]string{}
	for _, m := range varRefRe.FindAllStringSubmatch(src, -1) {
		switch {
		case strings.Contains(m[1], "PORT"):
			vars[m[1]] = "8080"
		case strings.Contains(m[1], "REGISTRY") && m[1] != "REGISTRY":
			vars[m[1]] = "secret"
		default:
			vars[m[1]] = "registry.example.com/team"
		}
	}
	return &runtime.RenderData{
		Space:    &shared.Space{Meta: shared.Meta{ID: "0193f1c2-0000-7000-8000-000000000001"}, Name: "dev"},
		User:     &shared.User{Meta: shared.Meta{ID: "0193f1c2-0000-7000-8000-000000000002"}, Username: "alice", Email: "alice@example.com", Timezone: "Europe/London", ServicePassword: "pw"},
		Template: &shared.Template{Meta: shared.Meta{ID: "0193f1c2-0000-7000-8000-000000000003"}, Name: "docs"},
		Server:   runtime.ServerInfo{URL: "https://london.knot.example.com/", AgentEndpoint: "london.knot.example.com:3010", WildcardDomain: "*.london.knot.example.com", Location: "london", Timezone: "Local"},
		Vars:     vars,
	}
}

// TestDocsTemplateExamplesValidate checks every template example: it must
// pass the validation of POST /api/templates (runtime.ValidateTemplate, the
// server's check), and render for a real space into a valid spec. A refused
// example must be refused with the message the page shows after it.
func TestDocsTemplateExamplesValidate(t *testing.T) {
	blocks := allBlocks(t)
	n := 0
	for i, b := range blocks {
		var tmpl *shared.Template
		switch {
		case b.info == "yaml" && strings.HasPrefix(b.marker, "container spec"):
			tmpl = &shared.Template{Name: "docs", Kind: shared.TemplateContainer, Spec: b.body}
		case b.info == "yaml" && b.marker == "container volumes":
			tmpl = &shared.Template{Name: "docs", Kind: shared.TemplateContainer, Spec: "image: debian\n", Volumes: b.body}
		case b.info == "yaml" && b.marker == "nomad volumes":
			tmpl = &shared.Template{Name: "docs", Kind: shared.TemplateNomad, Spec: "job \"x\" {}\n", Volumes: b.body}
		case b.info == "hcl" && b.marker == "nomad job":
			tmpl = &shared.Template{Name: "docs", Kind: shared.TemplateNomad, Spec: b.body}
		case b.info == "yaml" && b.marker == "template file":
			path := filepath.Join(t.TempDir(), "template.yaml")
			if err := os.WriteFile(path, []byte(b.body), 0o600); err != nil {
				t.Fatal(err)
			}
			tf, err := readTemplateFile(path, nil)
			if err != nil {
				t.Errorf("%s: knot template import refuses the file: %v", b.where(), err)
				continue
			}
			tmpl = &shared.Template{Name: tf.Name, Kind: shared.TemplateKind(tf.Kind), Spec: tf.Spec, Volumes: tf.Volumes}
		default:
			continue
		}
		n++
		err := runtime.ValidateTemplate(tmpl)
		if b.marker == "container spec: refused" {
			checkRefusal(t, b, blocks, i, err)
			continue
		}
		if err != nil {
			t.Errorf("%s: POST /api/templates would refuse the example: %v\n%s", b.where(), err, b.body)
			continue
		}
		checkRenders(t, b, tmpl)
	}
	if n < 10 {
		t.Fatalf("only %d template examples found", n)
	}
}

// checkRefusal checks that err is the error the block after b shows.
func checkRefusal(t *testing.T, b docBlock, blocks []docBlock, i int, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: the example is marked refused, but knot accepts it", b.where())
		return
	}
	if i+1 >= len(blocks) || blocks[i+1].file != b.file || blocks[i+1].info != "text" {
		t.Errorf("%s: a refused example must be followed by a ```text block with the error; knot says: %s", b.where(), shared.ErrorMessage(err))
		return
	}
	if got, want := shared.ErrorMessage(err), strings.TrimSpace(blocks[i+1].body); got != want {
		t.Errorf("%s: the page shows the error\n\t%s\nbut knot says\n\t%s", blocks[i+1].where(), want, got)
	}
}

// checkRenders renders a valid example for a real space, as a start does.
func checkRenders(t *testing.T, b docBlock, tmpl *shared.Template) {
	t.Helper()
	data := renderData(tmpl.Spec + tmpl.Volumes)
	spec, err := runtime.Render(`template "docs"`, tmpl.Spec, data)
	if err != nil {
		t.Errorf("%s: the example does not render for a space: %v", b.where(), err)
		return
	}
	vols := ""
	if strings.TrimSpace(tmpl.Volumes) != "" {
		if vols, err = runtime.Render(`template "docs" volumes`, tmpl.Volumes, data); err != nil {
			t.Errorf("%s: the volume definition does not render for a space: %v", b.where(), err)
			return
		}
	}
	switch tmpl.Kind {
	case shared.TemplateContainer:
		if _, err := runtime.ParseContainerSpec(spec); err != nil {
			t.Errorf("%s: the rendered spec is not valid: %v\n%s", b.where(), err, spec)
		}
		if _, err := runtime.ParseContainerVolumes(vols); err != nil {
			t.Errorf("%s: the rendered volume definition is not valid: %v\n%s", b.where(), err, vols)
		}
	case shared.TemplateNomad:
		if strings.Contains(spec, "${{") || strings.Count(spec, "{") != strings.Count(spec, "}") {
			t.Errorf("%s: the rendered job is not whole:\n%s", b.where(), spec)
		}
		// runtime/nomad's TestManualVolumeDefinitionsParse reads the
		// volume definitions as the driver does.
	}
}

// TestDocsCommandLines checks every knot command line of the manual and of
// README.md: the commands exist and every flag is one of its command's.
func TestDocsCommandLines(t *testing.T) {
	blocks := allBlocks(t)
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks = append(blocks, parseBlocks("README.md", string(readme))...)
	app := newApp(streams{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}})
	envs := knownEnv()
	n := 0
	for _, b := range blocks {
		if b.info != "sh" {
			continue
		}
		for _, cl := range shellCommands(b.body) {
			args := cl.args
			for len(args) > 0 && envAssignRe.MatchString(args[0]) {
				name, _, _ := strings.Cut(args[0], "=")
				if strings.HasPrefix(name, "KNOT_") && !envs[name] {
					t.Errorf("%s:%d: %s is not a knot variable", b.file, b.line+cl.line, name)
				}
				args = args[1:]
			}
			if len(args) == 0 || (args[0] != "knot" && !strings.HasSuffix(args[0], "/knot")) {
				continue
			}
			n++
			if err := checkCommandLine(app, args[1:]); err != nil {
				t.Errorf("%s:%d: %s: %v", b.file, b.line+cl.line, strings.Join(args, " "), err)
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d knot command lines found", n)
	}
}

var envAssignRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

func knownEnv() map[string]bool {
	envs := map[string]bool{config.EnvConfig: true}
	for _, k := range config.Keys() {
		envs[k.Env] = true
	}
	return envs
}

// commandLine is one simple command of a block: its words and the line of
// the block it starts on (1 for the first line after the fence).
type commandLine struct {
	line int
	args []string
}

// shellCommands splits a block of shell into simple commands: lines joined
// at a trailing backslash, comments dropped, and the line split at |, &&,
// ||, ;, $( and ). Words are unquoted.
func shellCommands(body string) []commandLine {
	var out []commandLine
	lines := strings.Split(body, "\n")
	for i := 0; i < len(lines); i++ {
		start := i + 1
		line := lines[i]
		for strings.HasSuffix(line, "\\") && i+1 < len(lines) {
			i++
			line = strings.TrimSuffix(line, "\\") + " " + lines[i]
		}
		var words []string
		var word strings.Builder
		inWord := false
		flush := func() {
			if inWord {
				words = append(words, word.String())
			}
			word.Reset()
			inWord = false
		}
		end := func() {
			flush()
			if len(words) > 0 {
				out = append(out, commandLine{line: start, args: words})
			}
			words = nil
		}
		var quote byte
	scan:
		for j := 0; j < len(line); j++ {
			c := line[j]
			switch {
			case quote != 0:
				if c == quote {
					quote = 0
				} else {
					word.WriteByte(c)
				}
			case c == '\'' || c == '"':
				quote, inWord = c, true
			case c == '#' && !inWord:
				break scan
			case c == ' ' || c == '\t':
				flush()
			case c == '|' || c == ';' || c == '&' || c == ')' || c == '(' || c == '>' || c == '<':
				if c == '>' || c == '<' {
					// A redirection: drop its target.
					flush()
					for j+1 < len(line) && line[j+1] == ' ' {
						j++
					}
					for j+1 < len(line) && line[j+1] != ' ' {
						j++
					}
					continue
				}
				end()
				if c == '(' && word.Len() == 0 && len(words) == 0 {
					continue
				}
			case c == '$' && j+1 < len(line) && line[j+1] == '(':
				end()
			default:
				word.WriteByte(c)
				inWord = true
			}
		}
		end()
	}
	return out
}

// checkCommandLine walks app along args: each word before the first
// argument must name a subcommand of the command so far, until one without
// subcommands; each flag must be one of the command it follows (or of the
// last command named, since knot moves flags before arguments); and the
// arguments must be as many as the command's usage names.
func checkCommandLine(app *cli.App, args []string) error {
	cmds, flags := app.Commands, app.Flags
	var cmd *cli.Command
	positional := 0
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if name == "help" || name == "h" || (cmd == nil && (name == "version" || name == "v")) {
				return nil
			}
			f := docsFlag(flags, name)
			if f == nil {
				return fmt.Errorf("%s has no flag --%s", commandPath(cmd), name)
			}
			if _, isBool := f.(*cli.BoolFlag); !isBool && !hasValue {
				if i+1 >= len(args) {
					return fmt.Errorf("--%s needs a value", name)
				}
				i++
			}
			continue
		}
		if len(cmds) > 0 {
			next := docsCommand(cmds, a)
			if next == nil {
				return fmt.Errorf("%s has no command %q", commandPath(cmd), a)
			}
			cmd, cmds, flags = next, next.Subcommands, next.Flags
			continue
		}
		positional++
	}
	switch {
	case cmd == nil:
		return fmt.Errorf("names no command")
	case len(cmd.Subcommands) > 0:
		return fmt.Errorf("%s needs a command: %s", commandPath(cmd), strings.Join(commandNames(cmd.Subcommands), ", "))
	case cmd.Action == nil:
		return fmt.Errorf("%s does nothing", commandPath(cmd))
	}
	if want := usageArgs(cmd); positional < len(want) || positional > len(want)+optionalArgs(cmd) {
		return fmt.Errorf("%s takes %d arguments (%s), not %d", commandPath(cmd), len(want), strings.Join(want, " "), positional)
	}
	return nil
}

var (
	usageArgRe    = regexp.MustCompile(`^[A-Z][A-Z_|]*$`)
	optionalArgRe = regexp.MustCompile(`^\[[A-Z][A-Z_:|]*\]$`)
)

// optionalArgs counts the optional arguments a command's usage text names,
// such as [LOCAL_ADDR:PORT].
func optionalArgs(cmd *cli.Command) int {
	n := 0
	for _, w := range strings.Fields(cmd.UsageText) {
		if optionalArgRe.MatchString(w) {
			n++
		}
	}
	return n
}

// usageArgs returns the arguments a command's usage text names: the words
// in capitals that are neither in brackets nor the value of a flag, such as
// NAME and TEMPLATE of "knot space create [options] NAME TEMPLATE".
func usageArgs(cmd *cli.Command) []string {
	text := cmd.UsageText
	if text == "" {
		text = cmd.ArgsUsage
	}
	var args []string
	depth := 0
	prevFlag := false
	for _, w := range strings.Fields(text) {
		open := strings.HasPrefix(w, "[")
		if depth == 0 && !open && !prevFlag && usageArgRe.MatchString(w) {
			args = append(args, w)
		}
		depth += strings.Count(w, "[") - strings.Count(w, "]")
		prevFlag = strings.HasPrefix(w, "-") && depth == 0
		if w == ">" {
			break
		}
	}
	return args
}

func docsFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

func docsCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.Name == name || slices.Contains(c.Aliases, name) {
			return c
		}
	}
	return nil
}

func commandNames(cmds []*cli.Command) []string {
	var names []string
	for _, c := range cmds {
		if c.Name != "help" {
			names = append(names, c.Name)
		}
	}
	return names
}

func commandPath(cmd *cli.Command) string {
	if cmd == nil {
		return "knot"
	}
	return "knot … " + cmd.Name
}

// keyRefRe finds configuration keys named in the manual's text.
var keyRefRe = regexp.MustCompile("`((?:server|client|agent|log|resolver)\\.[a-z_.*]*[a-z_*])")

// TestDocsNameRealKeys checks that every configuration key the manual names
// (`server.tls.cert_file`, `server.totp.*`) is a key of knot's table.
func TestDocsNameRealKeys(t *testing.T) {
	var paths []string
	for _, k := range config.Keys() {
		paths = append(paths, k.Path)
	}
	n := 0
	for name, text := range docPages(t) {
		for _, m := range keyRefRe.FindAllStringSubmatch(text, -1) {
			n++
			ref := m[1]
			if prefix, ok := strings.CutSuffix(ref, ".*"); ok {
				if !slices.ContainsFunc(paths, func(p string) bool { return strings.HasPrefix(p, prefix+".") }) {
					t.Errorf("%s: no key starts with %s", name, prefix)
				}
				continue
			}
			if !slices.Contains(paths, ref) {
				t.Errorf("%s: %s is not a configuration key", name, ref)
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d key references found", n)
	}
}

// metricSources are the files that name the series /metrics serves: web
// writes the requests' (shared/metrics.Requests) and those collected where
// they arise.
var metricSources = []string{"web/metrics.go", "shared/metrics/requests.go", "storage/observe.go", "origin/metrics.go", "leaf/metrics.go", "shared/metrics/process.go"}

// TestDocsListEveryMetric checks that operations.md lists every series
// metricSources serve, and no other.
func TestDocsListEveryMetric(t *testing.T) {
	var src []byte
	for _, f := range metricSources {
		b, err := os.ReadFile(filepath.Join("..", "..", f))
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, b...)
	}
	served := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?:# HELP |")((?:knot|go|process)_[a-z_]+)`).FindAllStringSubmatch(string(src), -1) {
		if base, ok := histogramPart(m[1]); ok && strings.Contains(string(src), `"# HELP `+base) {
			continue
		}
		served[m[1]] = true
	}
	if len(served) < 20 {
		t.Fatalf("found only %d series in %v", len(served), metricSources)
	}
	ops := docPages(t)["operations.md"]
	for name := range served {
		if !regexp.MustCompile("\\| `" + name + "[`{]").MatchString(ops) {
			t.Errorf("operations.md does not list the series %s in a table", name)
		}
	}
	for _, m := range regexp.MustCompile("`((?:knot|go|process)_[a-z_]+)").FindAllStringSubmatch(ops, -1) {
		if !served[m[1]] {
			t.Errorf("operations.md names the series %s, which knot does not serve", m[1])
		}
	}
}

// histogramPart returns the histogram a _bucket, _sum or _count series is
// part of.
func histogramPart(name string) (string, bool) {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			return base, true
		}
	}
	return "", false
}

// TestDocsListEveryUIPage checks that getting-started.md names every page
// of the web UI (web/ui/pages.go).
func TestDocsListEveryUIPage(t *testing.T) {
	src, err := os.ReadFile("../../web/ui/pages.go")
	if err != nil {
		t.Fatal(err)
	}
	pages := regexp.MustCompile(`\{path: "(/[a-z-]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(pages) < 5 {
		t.Fatalf("found only %d pages in web/ui/pages.go", len(pages))
	}
	gs := docPages(t)["getting-started.md"]
	for _, p := range pages {
		if !strings.Contains(gs, "| `"+p[1]+"` |") {
			t.Errorf("getting-started.md does not list the UI page %s", p[1])
		}
	}
}

var linkRe = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestDocsLinksResolve checks the relative links of the manual and of
// README.md: the file exists and so does the heading an anchor names.
func TestDocsLinksResolve(t *testing.T) {
	files := map[string]string{}
	for name, text := range docPages(t) {
		files[filepath.Join(docsDir, name)] = text
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	files["../../README.md"] = string(readme)
	for _, page := range []string{"getting-started.md", "templates.md", "origin-and-leaves.md", "getting-into-a-space.md", "operations.md"} {
		if !strings.Contains(string(readme), "](docs/"+page+")") {
			t.Errorf("README.md does not link docs/%s", page)
		}
	}
	for from, text := range files {
		for _, m := range linkRe.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			file := from
			if path != "" {
				file = filepath.Join(filepath.Dir(from), path)
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Errorf("%s: the link %s leads nowhere: %v", from, target, err)
				continue
			}
			if anchor != "" && !slices.Contains(headingAnchors(string(data)), anchor) {
				t.Errorf("%s: the link %s names no heading of %s", from, target, file)
			}
		}
	}
}

// headingAnchors returns the anchors a code host gives the headings of a
// Markdown text: lower case, punctuation dropped, spaces as dashes.
func headingAnchors(text string) []string {
	var out []string
	inFence := false
	for _, line := range strings.Split(text, "\n") {
		if fenceRe.MatchString(line) {
			inFence = !inFence
		}
		if inFence || !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		var b strings.Builder
		for _, r := range h {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteByte('-')
			}
		}
		out = append(out, b.String())
	}
	return out
}

// DocsFirstContainerTemplate returns the manual's first complete container
// template, the one a new user copies: the first template file of kind
// container, looked for in getting-started.md and then in templates.md, the
// order in which a reader meets them. where says where it is.
func DocsFirstContainerTemplate(t *testing.T) (where, body string) {
	t.Helper()
	pages := docPages(t)
	for _, page := range []string{"getting-started.md", "templates.md"} {
		for _, b := range parseBlocks(page, pages[page]) {
			if b.info == "yaml" && b.marker == "template file" && regexp.MustCompile(`(?m)^kind: container$`).MatchString(b.body) {
				return b.where(), b.body
			}
		}
	}
	t.Fatal("the manual has no complete container template (a ```yaml block marked # template file of kind container)")
	return "", ""
}
