package demo

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// verify checks the end state at both systems and at the gateway, and
// adds a Check for each thing checked.
func (d *Demo) verify(r *Report) {
	check := func(what string, problems []string) {
		r.Checks = append(r.Checks, Check{What: what, OK: len(problems) == 0, Detail: strings.Join(problems, "; ")})
	}

	// Every message delivered, none dead, none back to the system the
	// change came from.
	var problems []string
	total := 0
	for _, f := range r.Flows {
		for _, dv := range f.Deliveries {
			total++
			if dv.To == f.From {
				problems = append(problems, fmt.Sprintf("%s %s went back to the %s", f.Type, f.ID, dv.To))
			}
			if dv.State != "delivered" {
				problems = append(problems, fmt.Sprintf("%s %s to the %s: %s %s", f.Type, f.ID, dv.To, dv.State, dv.Note))
			}
		}
	}
	check(fmt.Sprintf("all %d messages delivered to the other system, none dead", total), problems)

	// The EHR holds the patients and the appointments with their status.
	ehrAppts := map[string]string{}
	for _, a := range d.ehr.fhir.Resources("Appointment") {
		status, _ := a["status"].(string)
		ehrAppts[hmsID(a, systemAppointment)] = status
	}
	ehrPatients := map[string]bool{}
	for _, p := range d.ehr.fhir.Resources("Patient") {
		ehrPatients[hmsID(p, systemMRN)] = true
	}
	check(fmt.Sprintf("the EHR holds %s", describe(wantAppointments)),
		compare("EHR", ehrAppts, ehrPatients))

	// The scheduler holds the same, the EHR's changes included.
	schedAppts := map[string]string{}
	for id := range wantAppointments {
		if d.sched.record("Appointment", id) != nil {
			schedAppts[id] = d.sched.field("Appointment", id, "status")
		}
	}
	schedPatients := map[string]bool{}
	for _, id := range wantPatients {
		schedPatients[id] = d.sched.record("Patient", id) != nil
	}
	check("the scheduler holds the same, with the EHR's walk-in E-7001, its booking E-2001 and its cancellation of "+ehrCancels,
		compare("scheduler", schedAppts, schedPatients))
}

// compare lists how a system's appointments (id → status) and patients
// differ from what the scenario wants.
func compare(system string, appts map[string]string, patients map[string]bool) []string {
	var problems []string
	for _, id := range slices.Sorted(maps.Keys(wantAppointments)) {
		want, got := wantAppointments[id], appts[id]
		switch {
		case want == "" && got != "":
			problems = append(problems, fmt.Sprintf("the %s still has appointment %s (%s)", system, id, got))
		case want != "" && got == "":
			problems = append(problems, fmt.Sprintf("the %s has no appointment %s", system, id))
		case want != got:
			problems = append(problems, fmt.Sprintf("the %s has appointment %s %s, want %s", system, id, got, want))
		}
	}
	for id := range appts {
		if _, known := wantAppointments[id]; !known {
			problems = append(problems, fmt.Sprintf("the %s has an unexpected appointment %s", system, id))
		}
	}
	for _, id := range wantPatients {
		if !patients[id] {
			problems = append(problems, fmt.Sprintf("the %s has no patient %s", system, id))
		}
	}
	return problems
}

// describe is the wanted end state in words: "5 patients; A-1001 booked,
// …; no A-1005".
func describe(appts map[string]string) string {
	var held, gone []string
	for _, id := range slices.Sorted(maps.Keys(appts)) {
		if appts[id] == "" {
			gone = append(gone, id)
		} else {
			held = append(held, id+" "+appts[id])
		}
	}
	s := fmt.Sprintf("%d patients; %s", len(wantPatients), strings.Join(held, ", "))
	if len(gone) > 0 {
		s += "; no " + strings.Join(gone, ", ") + " (withdrawn)"
	}
	return s
}

// hmsID is the HMS id of a FHIR resource, as the shipped fhir-*-to-hms
// mappings read it: its identifier in the HMS system, else its id.
func hmsID(res map[string]any, system string) string {
	ids, _ := res["identifier"].([]any)
	for _, id := range ids {
		if m, ok := id.(map[string]any); ok && m["system"] == system {
			if v, ok := m["value"].(string); ok {
				return v
			}
		}
	}
	id, _ := res["id"].(string)
	return id
}
