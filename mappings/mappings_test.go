package mappings_test

import (
	"testing"

	"github.com/liaisonhq/liaison/mappings"
	"github.com/liaisonhq/liaison/transform"
)

// Every shipped mapping compiles and passes the tests written in it.
func TestShippedMappings(t *testing.T) {
	set, err := transform.NewSet(mappings.FS)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.All()) == 0 {
		t.Fatal("no mappings shipped")
	}
	for _, m := range set.All() {
		if len(m.Tests) == 0 {
			t.Errorf("%s has no tests", m.Name)
		}
		for _, r := range m.RunTests() {
			t.Run(m.Name+"/"+r.Test, func(t *testing.T) {
				if r.Err != nil {
					t.Errorf("%s:%d: %v", r.File, r.Line, r.Err)
				}
			})
		}
	}
}
