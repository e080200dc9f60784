package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/client"
)

// maxTemplateFile is the largest template file knot template import reads.
const maxTemplateFile = 4 << 20

// templateFile is a template as knot template export writes it and knot
// template import reads it. Groups are given by name.
type templateFile struct {
	Name         string   `yaml:"name"`
	Description  string   `yaml:"description"`
	Kind         string   `yaml:"kind"`
	Spec         string   `yaml:"spec"`
	Volumes      string   `yaml:"volumes"`
	Groups       []string `yaml:"groups"`
	Locations    []string `yaml:"locations"`
	ComputeUnits int      `yaml:"compute_units"`
	StorageUnits int      `yaml:"storage_units"`
	// WithTerminal and WithSSH allow terminals and SSH into the spaces;
	// absent means allowed.
	WithTerminal *bool `yaml:"with_terminal"`
	WithSSH      *bool `yaml:"with_ssh"`
	// HTTPPorts are the ports served as web apps: [{port: 8080, name: Site}].
	HTTPPorts []shared.HTTPPort `yaml:"http_ports,omitempty"`
}

func templateCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:        "template",
		Aliases:     []string{"templates"},
		Usage:       "List, export and import templates",
		UsageText:   "knot template COMMAND [options] [arguments]",
		Description: clientConfigHelp,
		Action:      unknownCommand,
		Subcommands: []*cli.Command{
			{
				Name:      "list",
				Aliases:   []string{"ls"},
				Usage:     "List the templates you may use (all of them with Manage Templates)",
				UsageText: "knot template list [options]",
				Flags:     clientFlags(),
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					return withClient(c, func(cl *client.Client) error { return listTemplates(c, cl) })
				},
			},
			{
				Name:      "export",
				Usage:     "Write a template as YAML, to standard output or a file",
				UsageText: "knot template export [options] NAME",
				Description: "Writes the template's name, description, kind, spec, volumes, groups (by name), locations,\n" +
					"compute_units, storage_units, with_terminal and with_ssh; knot template import reads it back.\n" +
					"Needs the Manage Templates permission.",
				Flags: clientFlags(
					&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` instead of standard output"},
				),
				Action: func(c *cli.Context) error {
					if err := wantArgs(c, "NAME"); err != nil {
						return err
					}
					return withClient(c, func(cl *client.Client) error { return exportTemplate(c, cl, c.Args().First(), c.String("output")) })
				},
			},
			{
				Name:      "import",
				Usage:     "Create a template from a YAML file, or update the template of that name",
				UsageText: "knot template import [options] FILE",
				Description: "Reads a file as knot template export writes it (- reads standard input). When a template\n" +
					"of that name exists, it is replaced by what the file says; otherwise one is created. Groups\n" +
					"are given by name (or id). Needs the Manage Templates permission.",
				Flags: clientFlags(),
				Action: func(c *cli.Context) error {
					if err := wantArgs(c, "FILE"); err != nil {
						return err
					}
					return importTemplate(c, s, c.Args().First())
				},
			},
			templateDeleteCommand(),
		},
	}
}

func listTemplates(c *cli.Context, cl *client.Client) error {
	ts, err := cl.Templates().List(c.Context)
	if err != nil {
		return err
	}
	if len(ts) == 0 {
		_, err := fmt.Fprintln(c.App.Writer, "There are no templates that you may use.")
		return err
	}
	slices.SortFunc(ts, func(a, b api.Template) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tSPACES\tDESCRIPTION")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", t.Name, t.Kind, t.Usage, oneLine(t.Description, 60))
	}
	return tw.Flush()
}

func exportTemplate(c *cli.Context, cl *client.Client, name, output string) error {
	ts, err := cl.Templates().List(c.Context)
	if err != nil {
		return err
	}
	found := findTemplate(ts, name)
	if found == nil {
		return fmt.Errorf("there is no template named %q (knot template list shows them)", name)
	}
	t, err := cl.Templates().Get(c.Context, found.ID)
	if err != nil {
		return err
	}
	groups := []string{}
	if len(t.Groups) > 0 {
		all, err := cl.Groups().List(c.Context)
		if err != nil {
			return err
		}
		for _, id := range t.Groups {
			name := id
			for _, g := range all {
				if g.ID == id {
					name = g.Name
					break
				}
			}
			groups = append(groups, name)
		}
	}
	tf := templateFile{
		Name: t.Name, Description: t.Description, Kind: string(t.Kind), Spec: t.Spec, Volumes: t.Volumes,
		Groups: groups, Locations: nonNilStrings(t.Locations),
		ComputeUnits: t.ComputeUnits, StorageUnits: t.StorageUnits,
		WithTerminal: &t.WithTerminal, WithSSH: &t.WithSSH, HTTPPorts: t.HTTPPorts,
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&tf); err != nil {
		return fmt.Errorf("encode template %s: %w", t.Name, err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("encode template %s: %w", t.Name, err)
	}
	if output == "" || output == "-" {
		_, err := c.App.Writer.Write(buf.Bytes())
		return err
	}
	if err := os.WriteFile(output, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("cannot write %s: %w", output, err)
	}
	_, err = fmt.Fprintf(c.App.Writer, "Template %s written to %s.\n", t.Name, output)
	return err
}

func nonNilStrings(s []string) []string { return nonNil(s) }

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// readTemplateFile reads and checks a template file; "-" is in.
func readTemplateFile(name string, in io.Reader) (*templateFile, error) {
	var r io.Reader = in
	display := "standard input"
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("cannot read the template: %w", err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.IsDir() {
			return nil, fmt.Errorf("%s is a directory, not a template file", name)
		}
		r, display = f, name
	}
	data, err := io.ReadAll(io.LimitReader(r, maxTemplateFile+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", display, err)
	}
	if len(data) > maxTemplateFile {
		return nil, fmt.Errorf("%s is larger than %d MiB", display, maxTemplateFile>>20)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s is empty", display)
	}
	var tf templateFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := decodeTemplate(dec, &tf); err != nil {
		return nil, fmt.Errorf("%s is not a template file: %s", display, yamlProblem(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("%s:%d: the file holds more than one YAML document", display, extra.Line)
	} else if !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s is not a template file: %s", display, yamlProblem(err))
	}
	if strings.TrimSpace(tf.Name) == "" {
		return nil, fmt.Errorf("%s: name is required", display)
	}
	if tf.Kind == "" {
		return nil, fmt.Errorf("%s: kind is required: container, nomad or manual", display)
	}
	return &tf, nil
}

// decodeTemplate decodes, turning a panic of the YAML parser into an error.
func decodeTemplate(dec *yaml.Decoder, tf *templateFile) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return dec.Decode(tf)
}

// yamlProblem shortens a YAML error: "yaml: line 3: ..." → "line 3: ...".
func yamlProblem(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
	msg = strings.ReplaceAll(msg, "\n  ", "; ")
	msg = strings.ReplaceAll(msg, "in type main.templateFile", "in a template")
	return msg
}

func importTemplate(c *cli.Context, s streams, file string) error {
	tf, err := readTemplateFile(file, s.stdin)
	if err != nil {
		return err
	}
	return withClient(c, func(cl *client.Client) error {
		groups := []string{}
		req := api.TemplateRequest{
			Name: &tf.Name, Description: &tf.Description, Kind: ptr(shared.TemplateKind(tf.Kind)), Spec: &tf.Spec, Volumes: &tf.Volumes,
			Groups: &groups, Locations: ptr(nonNilStrings(tf.Locations)),
			ComputeUnits: &tf.ComputeUnits, StorageUnits: &tf.StorageUnits,
			WithTerminal: tf.WithTerminal, WithSSH: tf.WithSSH, HTTPPorts: ptr(nonNil(tf.HTTPPorts)),
		}
		if len(tf.Groups) > 0 {
			all, err := cl.Groups().List(c.Context)
			if err != nil {
				return err
			}
			for _, g := range tf.Groups {
				id, ok := groupID(all, g)
				if !ok {
					return fmt.Errorf("groups: there is no group named %q on %s", g, cl.Address())
				}
				groups = append(groups, id)
			}
		}
		ts, err := cl.Templates().List(c.Context)
		if err != nil {
			return err
		}
		if cur := findTemplate(ts, tf.Name); cur != nil {
			if err := cl.Templates().Update(c.Context, cur.ID, req); err != nil {
				return err
			}
			_, err := fmt.Fprintf(c.App.Writer, "Template %s updated.\n", tf.Name)
			return err
		}
		if _, err := cl.Templates().Create(c.Context, req); err != nil {
			return err
		}
		_, err = fmt.Fprintf(c.App.Writer, "Template %s created.\n", tf.Name)
		return err
	})
}

// groupID finds a group by name (ignoring case) or id.
func groupID(groups []api.Group, nameOrID string) (string, bool) {
	for _, g := range groups {
		if g.ID == nameOrID || strings.EqualFold(g.Name, nameOrID) {
			return g.ID, true
		}
	}
	return "", false
}
