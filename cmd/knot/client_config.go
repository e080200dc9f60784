package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/knot-dev/knot/shared/client"
	"github.com/knot-dev/knot/shared/config"
)

// clientConfigHelp explains where client commands find the server and token.
const clientConfigHelp = "The server and API token come from --server and --token, else $KNOT_SERVER and $KNOT_TOKEN,\n" +
	"else the client configuration file: --config, else $KNOT_CONFIG, else\n" +
	"$XDG_CONFIG_HOME/knot/knot.yaml (~/.config/knot/knot.yaml), which knot connect writes."

// userConfigFile returns the client configuration file of the user:
// $XDG_CONFIG_HOME/knot/knot.yaml, or ~/.config/knot/knot.yaml when
// XDG_CONFIG_HOME is unset or not absolute.
func userConfigFile() (string, error) {
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "knot", "knot.yaml"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot find the configuration directory: %w (set XDG_CONFIG_HOME or use --config)", err)
	}
	return filepath.Join(home, ".config", "knot", "knot.yaml"), nil
}

// clientConfigFile returns the file client commands read and knot connect
// writes: --config, else $KNOT_CONFIG, else the user's file. fromUser
// reports the last case.
func clientConfigFile(c *cli.Context) (name string, fromUser bool, err error) {
	for _, cc := range c.Lineage() {
		if cc.IsSet("config") {
			return cc.String("config"), false, nil
		}
	}
	if v := os.Getenv(config.EnvConfig); v != "" {
		return v, false, nil
	}
	name, err = userConfigFile()
	return name, true, err
}

// loadClientConfig loads the configuration of a client command. Without
// --config or $KNOT_CONFIG it reads the user's file when it exists (and
// otherwise ./knot.yaml when that exists).
func loadClientConfig(c *cli.Context) (*config.Config, error) {
	file := ""
	name, fromUser, err := clientConfigFile(c)
	switch {
	case err != nil:
		// No home directory: flags and environment may still do.
	case fromUser:
		if _, err := os.Stat(name); err == nil {
			file = name
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("cannot read the client configuration: %w", err)
		}
	}
	return loadConfigFile(c, file)
}

// newClientFromConfig returns a client for the server and token of the
// configuration, or an error saying how to give them.
func newClientFromConfig(c *cli.Context) (*client.Client, error) {
	cfg, err := loadClientConfig(c)
	if err != nil {
		return nil, err
	}
	read := ""
	if cfg.File != "" {
		read = " (read " + cfg.File + ")"
	}
	if cfg.Client.Server == "" {
		return nil, fmt.Errorf("no knot server is configured%s: give --server URL, set KNOT_SERVER, or run 'knot connect URL' once", read)
	}
	if cfg.Client.Token == "" {
		return nil, fmt.Errorf("no API token is configured for %s%s: give --token, set KNOT_TOKEN, or run 'knot connect %s' once", cfg.Client.Server, read, cfg.Client.Server)
	}
	tc, err := clientTLSConfig(cfg.Client)
	if err != nil {
		return nil, err
	}
	return newConfiguredClient(c, cfg, cfg.Client.Token, tc)
}

// withClient runs fn with a client for the configured server. An
// authentication failure gets a hint to connect again.
func withClient(c *cli.Context, fn func(*client.Client) error) error {
	cl, err := newClientFromConfig(c)
	if err != nil {
		return err
	}
	err = fn(cl)
	if client.StatusOf(err) == http.StatusUnauthorized {
		return fmt.Errorf("%w\nThe server refused the token: run 'knot connect %s' for a new one.", err, cl.Address())
	}
	return err
}

// clientKey is a client.* key that writeClientConfig sets to Value (a YAML
// scalar of Tag, "" meaning a string), or removes when Value is "".
type clientKey struct {
	Name, Value, Tag string
}

// setClientKeys returns the configuration file data with client.server and
// client.token set to server and token, and the extra keys set or removed.
// Everything else in data, comments included, is kept.
func setClientKeys(name string, data []byte, server, token string, extra ...clientKey) ([]byte, error) {
	var doc yaml.Node
	if len(bytes.TrimSpace(data)) > 0 {
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("%s is not valid YAML: %v", name, err)
		}
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, fmt.Errorf("%s does not hold one YAML document", name)
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		*root = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", HeadComment: root.HeadComment}
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: the file must be a mapping of sections (server:, client:, ...)", name, root.Line)
	}
	client := mappingValue(root, "client")
	if client == nil || (client.Kind == yaml.ScalarNode && client.Tag == "!!null") {
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		setMappingValue(root, "client", m)
		client = m
	}
	if client.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: client must be a mapping of keys", name, client.Line)
	}
	setMappingValue(client, "server", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: server})
	setMappingValue(client, "token", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: token})
	for _, k := range extra {
		if k.Value == "" {
			removeMappingValue(client, k.Name)
			continue
		}
		tag := k.Tag
		if tag == "" {
			tag = "!!str"
		}
		setMappingValue(client, k.Name, &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: k.Value})
	}

	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("encode %s: %w", name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// mappingValue returns the value of key in the mapping m, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// setMappingValue replaces the value of key in the mapping m, or appends
// the key. The value keeps the comments of the value it replaces.
func setMappingValue(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			old := m.Content[i+1]
			v.LineComment, v.FootComment = old.LineComment, old.FootComment
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
}

// writeClientConfig sets client.server and client.token in the file name,
// and sets or removes the extra keys, creating it (and its directory) when
// needed, and keeping its other keys. The result must load as a
// configuration; the file is replaced atomically and left readable by its
// owner only.
func writeClientConfig(name, server, token string, extra ...clientKey) error {
	if resolved, err := filepath.EvalSymlinks(name); err == nil {
		name = resolved
	}
	data, err := os.ReadFile(name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot read %s: %w", name, err)
	}
	if data != nil {
		if _, err := config.Parse(name, data); err != nil {
			return fmt.Errorf("%s has problems; fix them or give another file with --config:\n%w", name, err)
		}
	}
	out, err := setClientKeys(name, data, server, token, extra...)
	if err != nil {
		return err
	}
	if _, err := config.Parse(name, out); err != nil {
		return fmt.Errorf("the new %s would not load:\n%w", name, err)
	}
	dir := filepath.Dir(name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cannot create %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(name)+".*")
	if err != nil {
		return fmt.Errorf("cannot write in %s: %w", dir, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename, a no-op
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("cannot write %s: %w", name, err)
	}
	if _, err := f.Write(out); err != nil {
		f.Close()
		return fmt.Errorf("cannot write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("cannot write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cannot write %s: %w", name, err)
	}
	if err := os.Rename(tmp, name); err != nil {
		return fmt.Errorf("cannot write %s: %w", name, err)
	}
	return nil
}
