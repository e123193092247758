package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestCheckListsEveryErrorAndExits1(t *testing.T) {
	var out, errs bytes.Buffer
	if code := check(&out, &errs, "../../conf/testdata/bad.toml"); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(errs.String(), "13 error(s)") || !strings.Contains(errs.String(), `pair "cam1".backup: "render-9" is not a [[machine]]`) {
		t.Fatalf("stderr:\n%s", errs.String())
	}
}

func TestCheckSummarisesDemo(t *testing.T) {
	var out, errs bytes.Buffer
	if code := check(&out, &errs, ""); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	if !strings.Contains(out.String(), `pair "cam1": render-1 → render-1b`) {
		t.Fatalf("summary:\n%s", out.String())
	}
}
