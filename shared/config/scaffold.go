package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// scaffolds maps what knot scaffold can print to the top sections it holds.
var scaffolds = map[string][]string{
	"server": {"server", "resolver", "log"},
	"agent":  {"agent", "log"},
	"client": {"client"},
}

var scaffoldHelp = map[string]string{
	"server": "knot server --help lists them all",
	"agent":  "knot agent --help lists them all",
	"client": "every client command takes them",
}

// Scaffold returns a commented configuration file for a "server", an
// "agent" or a "client", listing every key of its sections with its
// description and its default or an example. Keys that are off by default
// are commented out. The result loads as it is.
func Scaffold(what string) (string, error) {
	tops, ok := scaffolds[what]
	if !ok {
		return "", fmt.Errorf("nothing to scaffold for %q (want server, agent or client)", what)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# knot %s configuration (made by knot scaffold --%s).\n", what, what)
	b.WriteString("#\n")
	first := children(tops[0])[0].key
	note := fmt.Sprintf("Every key can also be set by an environment variable and by a flag, such as %s and --%s for %s; %s. A flag wins over the environment, which wins over this file.",
		first.envName(), first.flagName(), first.path, scaffoldHelp[what])
	for _, line := range wrap(note, 78) {
		b.WriteString("# " + line + "\n")
	}
	for _, top := range tops {
		b.WriteString("\n")
		writeSection(&b, top, 0)
	}
	return b.String(), nil
}

// entry is a key or a subsection of a section, in table order.
type entry struct {
	key     *key
	section string
}

func children(path string) []entry {
	var out []entry
	seen := map[string]bool{}
	for i := range keys {
		k := &keys[i]
		rest, ok := strings.CutPrefix(k.path, path+".")
		if !ok {
			continue
		}
		if !strings.Contains(rest, ".") {
			out = append(out, entry{key: k})
			continue
		}
		sub := path + "." + rest[:strings.IndexByte(rest, '.')]
		if !seen[sub] {
			seen[sub] = true
			out = append(out, entry{section: sub})
		}
	}
	return out
}

// allCommented reports whether every key under path is commented out.
func allCommented(path string) bool {
	for i := range keys {
		if strings.HasPrefix(keys[i].path, path+".") && !keys[i].commented {
			return false
		}
	}
	return true
}

func sectionDoc(path string) string {
	for _, s := range sections {
		if s.path == path {
			return s.doc
		}
	}
	return ""
}

// writeSection writes the section at path and its keys. Lines of a
// commented key start with "# " after their indentation, so removing those
// two characters restores the key.
func writeSection(b *strings.Builder, path string, depth int) {
	ind := strings.Repeat("  ", depth)
	comment := ""
	if allCommented(path) {
		comment = "# "
	}
	if doc := sectionDoc(path); doc != "" {
		for _, line := range wrap(doc, 78-len(ind)) {
			b.WriteString(ind + "# " + line + "\n")
		}
	}
	b.WriteString(ind + comment + path[strings.LastIndexByte(path, '.')+1:] + ":\n")
	for i, e := range children(path) {
		if depth == 0 && i > 0 {
			b.WriteString("\n")
		}
		if e.section != "" {
			writeSection(b, e.section, depth+1)
			continue
		}
		writeKey(b, e.key, depth+1)
	}
}

func writeKey(b *strings.Builder, k *key, depth int) {
	ind := strings.Repeat("  ", depth)
	for _, line := range wrap(k.doc, 78-len(ind)) {
		b.WriteString(ind + "# " + line + "\n")
	}
	comment := ""
	if k.commented {
		comment = "# "
	}
	val := k.example
	if val == "" {
		val = k.def
	}
	switch k.typ.kind {
	case ValueList:
		var items []string
		for _, it := range strings.Split(val, ",") {
			if it = strings.TrimSpace(it); it != "" {
				items = append(items, it)
			}
		}
		if len(items) == 0 {
			b.WriteString(ind + comment + k.name() + ": []\n")
			return
		}
		b.WriteString(ind + comment + k.name() + ":\n")
		for _, it := range items {
			b.WriteString(ind + comment + "  - " + yamlString(it) + "\n")
		}
	case ValueBool, ValueInt:
		if val == "" {
			val = "0"
			if k.typ.kind == ValueBool {
				val = "false"
			}
		}
		b.WriteString(ind + comment + k.name() + ": " + val + "\n")
	default:
		b.WriteString(ind + comment + k.name() + ": " + yamlString(val) + "\n")
	}
}

// yamlString returns s as a YAML scalar, quoted when it must be.
func yamlString(s string) string {
	out, err := yaml.Marshal(s)
	if err != nil {
		return fmt.Sprintf("%q", s)
	}
	return strings.TrimSuffix(string(out), "\n")
}

// wrap splits text into lines of at most width characters at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

var mdEscape = strings.NewReplacer("|", "\\|", "*", "\\*")

// Reference returns the table of every key as Markdown: its environment
// variable, flag, type, default and description. keys.md holds its output.
func Reference() string {
	var b strings.Builder
	b.WriteString("# knot configuration keys\n\n")
	b.WriteString("<!-- Generated from shared/config/keys.go by `go test ./shared/config -run TestReference -update`; do not edit. -->\n\n")
	b.WriteString("Every key can be set in the configuration file, by its environment variable and by its flag.\n")
	b.WriteString("A flag wins over the variable, which wins over the file, which wins over the default.\n")
	b.WriteString("The file is named by `--config` or `KNOT_CONFIG`; when neither is given, `./knot.yaml` is read if it exists.\n")
	b.WriteString("Variables are named `KNOT_` and the key's path without `server.`, in upper snake case; flags are the\n")
	b.WriteString("variable's name without `KNOT_`, in lower case with dashes. A few keys differ: `server.agent_endpoint` is\n")
	b.WriteString("`KNOT_SERVER_AGENT_ENDPOINT`, because `KNOT_AGENT_ENDPOINT` is `agent.endpoint`, which a leaf passes into\n")
	b.WriteString("every space together with `KNOT_SPACE_ID` (`agent.space_id`); the client's `client.server` and\n")
	b.WriteString("`client.token` are `KNOT_SERVER` / `--server` and `KNOT_TOKEN` / `--token`.\n")
	b.WriteString("An empty variable counts as unset. Lists are comma-separated in variables and flags.\n")
	b.WriteString("`knot server` takes the `server`, `resolver` and `log` flags.\n\n")
	b.WriteString("| Key | Variable | Flag | Type | Default | Description |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, k := range Keys() {
		def := k.Default
		switch {
		case k.Path == "server.location":
		case def == "":
			def = "(empty)"
		default:
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | `--%s` | %s | %s | %s |\n",
			k.Path, k.Env, k.Flag, mdEscape.Replace(k.Type), def, mdEscape.Replace(k.Doc))
	}
	writeLegacyReference(&b)
	return b.String()
}
