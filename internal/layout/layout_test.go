package layout

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const sim = Module + "/internal/sim"

func imports(t *testing.T) map[string][]string {
	t.Helper()
	m, err := Imports(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestProductApartFromSimulation: no product package imports the
// simulated cameras, the storm, the demo or the benchmarks. Only the
// binary's entry point wires their commands in.
func TestProductApartFromSimulation(t *testing.T) {
	for dir, imps := range imports(t) {
		if dir == "cmd/camvault" || dir == "internal/sim" || strings.HasPrefix(dir, "internal/sim/") {
			continue
		}
		for _, p := range imps {
			if p == sim || strings.HasPrefix(p, sim+"/") {
				t.Errorf("%s imports %s: product packages must not depend on the simulation", dir, p)
			}
		}
	}
}

// TestOneDeviceProtocol: the gateway and the simulated camera speak the
// protocol through the one package that defines it.
func TestOneDeviceProtocol(t *testing.T) {
	m := imports(t)
	for _, dir := range []string{"internal/gateway", "internal/sim/camera"} {
		if !slices.Contains(m[dir], Module+"/internal/deviceproto") {
			t.Errorf("%s does not import internal/deviceproto", dir)
		}
	}
}

// TestDomainImportsNothingOfTheProject: the vocabulary stays at the
// bottom of the graph, so every package can use it.
func TestDomainImportsNothingOfTheProject(t *testing.T) {
	for _, p := range imports(t)["internal/domain"] {
		if strings.HasPrefix(p, Module+"/") {
			t.Errorf("internal/domain imports %s", p)
		}
	}
}
