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
	"proxy": "knot has no port proxy (server.enable_proxy is ignored): publish the space's ports in its template " +
		"(docs/templates.md) and reach them on the host that runs it",
	"direct": "knot makes no DNS SRV lookups for clients: look the service up with a resolver (dig SRV NAME) " +
		"and connect to the address it gives",
	"tunnel": "knot has no tunnel server (server.listen_tunnel is ignored): expose the port with a reverse proxy " +
		"or publish it in a space's template",
	"legal": "knot prints no licence notices: go version -m on the knot binary lists the modules it is built from, " +
		"each with its licence in its repository",
	"admin rename-location": "knot has no rename-location: a space keeps the location it was created at; " +
		"keep the old name in server.location of the server that runs them, or create the spaces anew",
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
