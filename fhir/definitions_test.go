package fhir

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// The committed tables match what gendefs makes of the definitions, when
// the definitions folder is at hand (it is not part of a clone).
func TestDefinitionsUpToDate(t *testing.T) {
	dir := os.Getenv("LIAISON_FHIR_DEFINITIONS")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "fhir-r4", "definitions")
	}
	if _, err := os.Stat(filepath.Join(dir, "profiles-resources.json")); err != nil {
		t.Skipf("definitions folder %s not present (set LIAISON_FHIR_DEFINITIONS): nothing to compare", dir)
	}
	out := filepath.Join(t.TempDir(), "gen.go")
	cmd := exec.Command("go", "run", "./internal/gendefs", "-definitions", dir, "-out", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gendefs: %v\n%s", err, msg)
	}
	want, _ := os.ReadFile("definitions_gen.go")
	got, _ := os.ReadFile(out)
	if !bytes.Equal(want, got) {
		t.Error("definitions_gen.go is stale: run go generate ./fhir/...")
	}
}

func TestModelShape(t *testing.T) {
	m := definitions()
	// The resource-types code system lists 146 concrete types (and the
	// abstract Resource, DomainResource); these definitions also carry
	// SubscriptionStatus.
	if n := len(ResourceTypes()); n != 147 || !IsResourceType("SubscriptionStatus") || IsResourceType("DomainResource") {
		t.Errorf("%d concrete resource types, want 147", n)
	}
	p := m.resourceType("Patient")
	ref, ok := p.element("deceasedDateTime")
	if !ok || !ref.el.choice || ref.typ != "dateTime" {
		t.Errorf("Patient.deceasedDateTime = %+v", ref)
	}
	ref, ok = m.typeOf("Patient.contact").element("relationship")
	if !ok || ref.el.max != -1 || ref.typ != "CodeableConcept" {
		t.Errorf("Patient.contact.relationship = %+v", ref)
	}
	ref, _ = m.typeOf("Questionnaire.item").element("item")
	if ref.typ != "Questionnaire.item" {
		t.Errorf("Questionnaire.item.item refers to %q, want Questionnaire.item", ref.typ)
	}
	ref, _ = m.typeOf("Extension").element("url")
	if !ref.el.xmlAttr || ref.el.min != 1 {
		t.Errorf("Extension.url = %+v", ref.el)
	}
	ref, _ = p.element("gender")
	if vs := m.valueSets[ref.el.binding]; vs == nil || len(vs.codes) != 4 {
		t.Errorf("Patient.gender binding %q has %v", ref.el.binding, vs)
	}
}

// BenchmarkLoadDefinitions measures building the model from the generated
// tables: the cost paid once, at the first decode or validation.
func BenchmarkLoadDefinitions(b *testing.B) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for b.Loop() {
		_ = loadModel()
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/(1<<20), "MB/load")
}
