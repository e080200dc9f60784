// Command knot-test stands in for knot's agent in test images. Without
// arguments (or with "serve") it waits for SIGTERM or SIGINT and exits 0.
// Other commands, run with exec inside a container:
//
//	knot-test write FILE TEXT   write TEXT to FILE, creating its directory
//	knot-test read FILE         print FILE
//	knot-test env NAME          print the value of NAME, exit 1 if unset
//	knot-test exit CODE         exit with CODE at once
//	knot-test version           print "knot-test"
package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
)

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		args = []string{"serve"}
	}
	switch {
	case args[0] == "serve":
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
		fmt.Println("knot-test: serving")
		s := <-c
		fmt.Println("knot-test: got", s)
	case args[0] == "write" && len(args) == 3:
		check(os.MkdirAll(filepath.Dir(args[1]), 0o755))
		check(os.WriteFile(args[1], []byte(args[2]), 0o644))
	case args[0] == "read" && len(args) == 2:
		b, err := os.ReadFile(args[1])
		check(err)
		os.Stdout.Write(b)
	case args[0] == "env" && len(args) == 2:
		v, ok := os.LookupEnv(args[1])
		if !ok {
			fmt.Fprintf(os.Stderr, "%s is not set\n", args[1])
			os.Exit(1)
		}
		fmt.Print(v)
	case args[0] == "exit" && len(args) == 2:
		code, err := strconv.Atoi(args[1])
		check(err)
		os.Exit(code)
	case args[0] == "version":
		fmt.Print("knot-test")
	default:
		fmt.Fprintf(os.Stderr, "knot-test: unknown command %q\n", args)
		os.Exit(2)
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "knot-test:", err)
		os.Exit(1)
	}
}
