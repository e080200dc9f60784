// Command agentkeys prints the fingerprints of the keys the SSH agent at
// $SSH_AUTH_SOCK holds, one a line: the end-to-end test of knot's SSH runs
// it inside a space to see that ssh -A reached a real ssh-agent.
package main

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

func main() {
	c, err := net.Dial("unix", os.Getenv("SSH_AUTH_SOCK"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "agentkeys:", err)
		os.Exit(1)
	}
	keys, err := agent.NewClient(c).List()
	if err != nil {
		fmt.Fprintln(os.Stderr, "agentkeys:", err)
		os.Exit(1)
	}
	for _, k := range keys {
		fmt.Println(ssh.FingerprintSHA256(k))
	}
}
