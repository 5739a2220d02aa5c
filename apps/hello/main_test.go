package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"testing"
)

func TestMain(m *testing.M) {
	if os.Getenv("HELLO_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestRunPrintsGreeting(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), nil, os.Getenv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "Hello, World!\n"; got != want {
		t.Fatalf("stdout %q, want %q", got, want)
	}
}

func TestRunRejectsArguments(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"extra"}, os.Getenv, &out, io.Discard); err == nil {
		t.Fatal("run accepted an argument")
	}
	if out.Len() != 0 {
		t.Fatalf("printed %q on error", out.String())
	}
}

func TestProcessExitCode(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
	}{
		{name: "no arguments", wantCode: 0, wantStdout: "Hello, World!\n"},
		{name: "stray argument", args: []string{"x"}, wantCode: 1, wantStdout: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], tt.args...)
			cmd.Env = append(os.Environ(), "HELLO_TEST_RUN_MAIN=1")
			var stdout bytes.Buffer
			cmd.Stdout = &stdout
			err := cmd.Run()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode || stdout.String() != tt.wantStdout {
				t.Fatalf("exit %d stdout %q, want %d %q", code, stdout.String(), tt.wantCode, tt.wantStdout)
			}
		})
	}
}
