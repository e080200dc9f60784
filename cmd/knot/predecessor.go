package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// predecessorCommands says, for each command of knot's predecessor that
// knot does not have, why and what to use instead. Its other commands are
// knot's (knot spaces and knot templates are aliases of knot space and
// knot template).
var predecessorCommands = map[string]string{
	"proxy": "knot proxies no services by their DNS names; it reaches the ports of spaces instead: " +
		"knot forward port SPACE PORT listens here and connects to PORT in the space, knot forward ssh SPACE carries SSH, " +
		"and the web ports of spaces are served under server.wildcard_domain (docs/getting-into-a-space.md)",
	"direct": "knot makes no DNS SRV lookups for clients: look the service up with a resolver (dig SRV NAME) " +
		"and connect to the address it gives",
	"tunnel": "knot has no tunnel server (server.listen_tunnel is ignored): to show a port of a space, use its web app " +
		"under server.wildcard_domain or knot forward port (docs/getting-into-a-space.md); for a port of this machine, use a reverse proxy",
	"legal": "knot prints no licence notices: go version -m on the knot binary lists the modules it is built from, " +
		"each with its licence in its repository",
	"admin rename-location": "knot has no rename-location: a space keeps the location it was created at; " +
		"keep the old name in server.location of the server that runs them, or create the spaces anew",
	"agent set-description": "knot's agent changes nothing of its space: set the space's description on its page in the web UI, " +
		"or with PUT /api/spaces/{space_id} and {\"description\": \"...\"}",
}

// predecessorAdvice returns what to use instead of the predecessor's
// command arg given to the command of c, or "".
func predecessorAdvice(c *cli.Context, arg string) string {
	name := strings.TrimPrefix(commandName(c)+" "+arg, "knot ")
	if advice, ok := predecessorCommands[name]; ok {
		return "knot " + name + " was a command of knot's predecessor: " + advice
	}
	return ""
}
