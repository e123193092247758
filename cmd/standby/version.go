package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
)

// version is set at build time by the package script (-ldflags "-X main.version=1.2.3");
// otherwise it comes from the module's build info.
var version = ""

func init() {
	register("version", "print the version of this standby binary", cmdVersion)
}

func cmdVersion(_ context.Context, args []string) int {
	if len(args) > 0 {
		fmt.Fprintln(os.Stderr, "usage: standby version")
		if len(args) == 1 && isHelp(args[0]) {
			return 0
		}
		return 2
	}
	fmt.Printf("standby %s (%s, %s/%s)\n", versionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}

// versionString is the set version, else the module version and VCS revision of the build.
func versionString() string {
	if version != "" {
		return version
	}
	v := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += "+" + s.Value[:12]
			}
		}
	}
	return v
}
