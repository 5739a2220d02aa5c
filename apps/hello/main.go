// Command hello prints a greeting and exits: the run-to-completion app.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(1)
	}
}

func run(_ context.Context, args []string, _ func(string) string, stdout, _ io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("takes no arguments, got %q", args)
	}
	_, err := fmt.Fprintln(stdout, "Hello, World!")
	return err
}
