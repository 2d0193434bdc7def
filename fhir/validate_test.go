package fhir

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
)

// invalidExamples are the R4 examples that are genuinely invalid, with the
// rule they break and the only issues Validate may report for them.
var valInvalidExamples = map[string]struct {
	rule string
	ok   func(Issue) bool
}{
	// hl7.org/fhir/R4/questionnaire-definitions.html#Questionnaire.item.linkId:
	// Questionnaire.item.linkId is 1..1, and 32 nested items of this
	// generated questionnaire have no linkId.
	"Questionnaire-qs1.json": {
		rule: "Questionnaire.item.linkId 1..1",
		ok: func(i Issue) bool {
			return i.Code == IssueRequired && strings.HasSuffix(i.Expression[0], ".linkId") && strings.HasPrefix(i.Expression[0], "Questionnaire.item[")
		},
	},
}

func valExample(t testing.TB, name string) Resource {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "fhir", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseJSON(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

func valParse(t testing.TB, s string) Resource {
	t.Helper()
	r, err := ParseJSON([]byte(s))
	if err != nil {
		t.Fatalf("%v\n%s", err, s)
	}
	return r
}

// checkIssueShape holds every issue to the contract: severity error, one of
// the five codes, a diagnostic and exactly one location.
func valCheckIssues(t testing.TB, is Issues) {
	t.Helper()
	for _, i := range is {
		switch i.Code {
		case IssueStructure, IssueRequired, IssueValue, IssueInvariant, IssueCodeInvalid:
		default:
			t.Errorf("issue code %q: %v", i.Code, i)
		}
		if i.Severity != SeverityError || i.Diagnostics == "" || len(i.Expression) != 1 || i.Expression[0] == "" {
			t.Errorf("malformed issue %#v", i)
		}
	}
}

func TestValidateExamples(t *testing.T) {
	valid, invalid := 0, 0
	for _, path := range examples(t, "json") {
		name := filepath.Base(path)
		r := valExample(t, name)
		is := Validate(r)
		valCheckIssues(t, is)
		if bad, ok := valInvalidExamples[name]; ok {
			if len(is) == 0 {
				t.Errorf("%s: listed as invalid (%s) but validates", name, bad.rule)
			}
			for _, i := range is {
				if !bad.ok(i) {
					t.Errorf("%s: issue beyond the known %s: %v", name, bad.rule, i)
				}
			}
			invalid++
			continue
		}
		if len(is) > 0 {
			t.Errorf("%s: %d issues, want none:\n%v", name, len(is), is)
			continue
		}
		valid++
	}
	t.Logf("%d examples valid, %d known invalid", valid, invalid)
	if valid+invalid != 507 {
		t.Errorf("%d examples, want 507", valid+invalid)
	}
}

// hasIssue tells whether is holds an issue with that code at that location.
func valHasIssue(is Issues, code IssueType, expr string) bool {
	for _, i := range is {
		if i.Code == code && len(i.Expression) == 1 && i.Expression[0] == expr {
			return true
		}
	}
	return false
}

// The locations of the contract, on real examples.
func TestValidateLocations(t *testing.T) {
	tests := []struct {
		name    string
		example string
		mutate  func(r Resource)
		code    IssueType
		expr    string
	}{
		{"participant status outside its value set", "Appointment-example.json", func(r Resource) {
			r["participant"].([]any)[1].(map[string]any)["status"] = "maybe-later"
		}, IssueCodeInvalid, "Appointment.participant[1].status"},
		{"participant status missing", "Appointment-example.json", func(r Resource) {
			delete(r["participant"].([]any)[1].(map[string]any), "status")
		}, IssueRequired, "Appointment.participant[1].status"},
		{"given name a number", "Patient-example.json", func(r Resource) {
			r["name"].([]any)[0].(map[string]any)["given"].([]any)[1] = json.Number("42")
		}, IssueStructure, "Patient.name[0].given[1]"},
		{"bundle entry status outside its value set", "Bundle-bundle-references.json", func(r Resource) {
			r["entry"].([]any)[2].(map[string]any)["resource"].(map[string]any)["status"] = "half-done"
		}, IssueCodeInvalid, "Bundle.entry[2].resource.status"},
		{"contained name a string", "Patient-example.json", func(r Resource) {
			r["contained"] = []any{map[string]any{"resourceType": "Patient", "name": []any{"Chalmers"}}}
		}, IssueStructure, "Patient.contained[0].name[0]"},
		{"quantity value a string", "Observation-f001.json", func(r Resource) {
			r["valueQuantity"].(map[string]any)["value"] = "6.3"
		}, IssueStructure, "Observation.valueQuantity.value"},
		{"quantity value not a number", "Observation-f001.json", func(r Resource) {
			r["valueQuantity"].(map[string]any)["value"] = json.Number("6.")
		}, IssueValue, "Observation.valueQuantity.value"},
		{"primitive extension without url", "Patient-example.json", func(r Resource) {
			delete(r["_birthDate"].(map[string]any)["extension"].([]any)[0].(map[string]any), "url")
		}, IssueRequired, "Patient._birthDate.extension[0].url"},
		{"two values for deceased", "Patient-example.json", func(r Resource) {
			r["deceasedDateTime"] = "2015-02-14T13:42:00+10:00"
		}, IssueInvariant, "Patient.deceased"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := valExample(t, tt.example)
			tt.mutate(r)
			is := Validate(r)
			valCheckIssues(t, is)
			if !valHasIssue(is, tt.code, tt.expr) {
				t.Errorf("want %s at %s, got:\n%v", tt.code, tt.expr, is)
			}
		})
	}
}

// want is one expected issue: code and location.
type valWant struct {
	code IssueType
	expr string
}

func TestValidateCases(t *testing.T) {
	ext := `{"url":"http://example.org/x","valueString":"x"}`
	tests := []struct {
		name string
		json string
		want []valWant // exactly these issues; none for a valid resource
	}{
		{"no resourceType", `{"id":"a"}`, []valWant{{IssueRequired, "Resource"}}},
		{"resourceType not a string", `{"resourceType":5}`, []valWant{{IssueStructure, "Resource"}}},
		{"abstract resourceType", `{"resourceType":"DomainResource"}`, []valWant{{IssueStructure, "Resource"}}},
		{"unknown resourceType", `{"resourceType":"Patients"}`, []valWant{{IssueStructure, "Resource"}}},
		{"bare resource", `{"resourceType":"Patient"}`, nil},
		{"unknown element", `{"resourceType":"Patient","nickname":"x"}`, []valWant{{IssueStructure, "Patient.nickname"}}},
		{"unknown _element", `{"resourceType":"Patient","_nickname":{"id":"x"}}`, []valWant{{IssueStructure, "Patient._nickname"}}},
		{"lone underscore", `{"resourceType":"Patient","_":{"id":"x"}}`, []valWant{{IssueStructure, "Patient._"}}},
		{"_name of a complex element", `{"resourceType":"Patient","name":[{"family":"a"}],"_name":[{"id":"x"}]}`, []valWant{{IssueStructure, "Patient._name"}}},
		{"_id of the resource", `{"resourceType":"Patient","id":"a","_id":{"extension":[` + ext + `]}}`, []valWant{{IssueStructure, "Patient._id"}}},
		{"_url of an extension", `{"resourceType":"Patient","extension":[{"url":"http://e.org/a","valueString":"x","_url":{"id":"y"}}]}`, []valWant{{IssueStructure, "Patient.extension[0]._url"}}},
		{"_div", `{"resourceType":"Patient","text":{"status":"generated","div":"<div>x</div>","_div":{"id":"y"}}}`, []valWant{{IssueStructure, "Patient.text._div"}}},
		{"array for a single element", `{"resourceType":"Patient","gender":["male"]}`, []valWant{{IssueStructure, "Patient.gender"}}},
		{"single value for an array", `{"resourceType":"Patient","name":{"family":"a"}}`, []valWant{{IssueStructure, "Patient.name"}}},
		{"string for an object", `{"resourceType":"Patient","maritalStatus":"M"}`, []valWant{{IssueStructure, "Patient.maritalStatus"}}},
		{"object for a string", `{"resourceType":"Patient","gender":{"code":"male"}}`, []valWant{{IssueStructure, "Patient.gender"}}},
		{"number for a string", `{"resourceType":"Patient","name":[{"family":1}]}`, []valWant{{IssueStructure, "Patient.name[0].family"}}},
		{"string for a boolean", `{"resourceType":"Patient","active":"true"}`, []valWant{{IssueStructure, "Patient.active"}}},
		{"string for a number", `{"resourceType":"Patient","multipleBirthInteger":"2"}`, []valWant{{IssueStructure, "Patient.multipleBirthInteger"}}},
		{"empty string", `{"resourceType":"Patient","name":[{"family":""}]}`, []valWant{{IssueStructure, "Patient.name[0].family"}}},
		{"empty array", `{"resourceType":"Patient","name":[]}`, []valWant{{IssueStructure, "Patient.name"}}},
		{"empty object", `{"resourceType":"Patient","name":[{}]}`, []valWant{{IssueStructure, "Patient.name[0]"}}},
		{"element with only an id", `{"resourceType":"Patient","name":[{"id":"n1"}]}`, []valWant{{IssueInvariant, "Patient.name[0]"}}},
		{"null element", `{"resourceType":"Patient","active":null}`, []valWant{{IssueStructure, "Patient.active"}}},
		{"null in an array without partner", `{"resourceType":"Patient","name":[{"given":["a",null]}]}`, []valWant{{IssueStructure, "Patient.name[0].given[1]"}}},
		{"null in a complex array", `{"resourceType":"Patient","name":[null]}`, []valWant{{IssueStructure, "Patient.name[0]"}}},
		{"null matched by _name", `{"resourceType":"Patient","name":[{"given":["a",null],"_given":[null,{"extension":[` + ext + `]}]}]}`, nil},
		{"_name longer than its partner", `{"resourceType":"Patient","name":[{"given":["a"],"_given":[null,{"id":"b"}]}]}`, []valWant{{IssueStructure, "Patient.name[0]._given"}, {IssueInvariant, "Patient.name[0]._given[1]"}}},
		{"null on both sides", `{"resourceType":"Patient","name":[{"given":["a",null],"_given":[{"id":"g"},null]}]}`, []valWant{{IssueStructure, "Patient.name[0].given[1]"}, {IssueStructure, "Patient.name[0]._given[1]"}}},
		{"_name alone, repeating", `{"resourceType":"Patient","name":[{"_given":[{"extension":[` + ext + `]}]}]}`, nil},
		{"_name a single object for a repeating element", `{"resourceType":"Patient","name":[{"given":["a"],"_given":{"id":"g"}}]}`, []valWant{{IssueStructure, "Patient.name[0]._given"}}},
		{"_name an array for a single element", `{"resourceType":"Patient","birthDate":"1970","_birthDate":[{"id":"g"}]}`, []valWant{{IssueStructure, "Patient._birthDate"}}},
		{"_name only an id, with value", `{"resourceType":"Patient","birthDate":"1970","_birthDate":{"id":"b"}}`, nil},
		{"_name only an id, no value", `{"resourceType":"Patient","_birthDate":{"id":"b"}}`, []valWant{{IssueInvariant, "Patient._birthDate"}}},
		{"_name empty", `{"resourceType":"Patient","birthDate":"1970","_birthDate":{}}`, []valWant{{IssueStructure, "Patient._birthDate"}}},
		{"_name with a value element", `{"resourceType":"Patient","birthDate":"1970","_birthDate":{"value":"1970"}}`, []valWant{{IssueStructure, "Patient._birthDate.value"}}},
		{"_name extension without url", `{"resourceType":"Patient","birthDate":"1970","_birthDate":{"extension":[{"valueString":"x"}]}}`, []valWant{{IssueRequired, "Patient._birthDate.extension[0].url"}}},
		{"required present through _name", `{"resourceType":"Observation","_status":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"unknown"}]},"code":{"text":"x"}}`, nil},
		{"required missing", `{"resourceType":"Observation","code":{"text":"x"}}`, []valWant{{IssueRequired, "Observation.status"}}},
		{"required choice missing", `{"resourceType":"MedicationRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"}}`, []valWant{{IssueRequired, "MedicationRequest.medication"}}},
		{"two choice values", `{"resourceType":"Patient","deceasedBoolean":true,"deceasedDateTime":"2020"}`, []valWant{{IssueInvariant, "Patient.deceased"}}},
		{"three choice values", `{"resourceType":"Patient","deceasedBoolean":true,"deceasedDateTime":"2020","_deceasedString":{"id":"x"}}`, []valWant{{IssueInvariant, "Patient.deceased"}, {IssueStructure, "Patient._deceasedString"}}},
		{"choice value and its _name", `{"resourceType":"Patient","deceasedBoolean":true,"_deceasedBoolean":{"extension":[` + ext + `]}}`, nil},
		{"choice value and another type's _name", `{"resourceType":"Patient","deceasedBoolean":true,"_deceasedDateTime":{"extension":[` + ext + `]}}`, []valWant{{IssueInvariant, "Patient.deceased"}}},
		{"extension with value and extensions", `{"resourceType":"Patient","extension":[{"url":"http://e.org/a","valueString":"x","extension":[` + ext + `]}]}`, []valWant{{IssueInvariant, "Patient.extension[0]"}}},
		{"extension with neither", `{"resourceType":"Patient","extension":[{"url":"http://e.org/a"}]}`, []valWant{{IssueInvariant, "Patient.extension[0]"}}},
		{"extension without url", `{"resourceType":"Patient","modifierExtension":[{"valueString":"x"}]}`, []valWant{{IssueRequired, "Patient.modifierExtension[0].url"}}},
		{"nested extensions", `{"resourceType":"Patient","extension":[{"url":"http://e.org/a","extension":[` + ext + `,{"url":"b","valueInteger":2147483648}]}]}`, []valWant{{IssueValue, "Patient.extension[0].extension[1].valueInteger"}}},
		{"div not a div", `{"resourceType":"Patient","text":{"status":"generated","div":"<p>x</p>"}}`, []valWant{{IssueValue, "Patient.text.div"}}},
		{"div divx", `{"resourceType":"Patient","text":{"status":"generated","div":"<divx>x</divx>"}}`, []valWant{{IssueValue, "Patient.text.div"}}},
		{"div unterminated", `{"resourceType":"Patient","text":{"status":"generated","div":"<div>x"}}`, []valWant{{IssueValue, "Patient.text.div"}}},
		{"div empty", `{"resourceType":"Patient","text":{"status":"generated","div":""}}`, []valWant{{IssueStructure, "Patient.text.div"}}},
		{"div missing", `{"resourceType":"Patient","text":{"status":"generated"}}`, []valWant{{IssueRequired, "Patient.text.div"}}},
		{"narrative status outside its value set", `{"resourceType":"Patient","text":{"status":"done","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}}`, []valWant{{IssueCodeInvalid, "Patient.text.status"}}},
		{"contained", `{"resourceType":"Patient","contained":[{"resourceType":"Organization","name":"x"}]}`, nil},
		{"contained without resourceType", `{"resourceType":"Patient","contained":[{"name":"x"}]}`, []valWant{{IssueRequired, "Patient.contained[0]"}}},
		{"contained with unknown type", `{"resourceType":"Patient","contained":[{"resourceType":"Nobody"}]}`, []valWant{{IssueStructure, "Patient.contained[0]"}}},
		{"contained a string", `{"resourceType":"Patient","contained":["Organization"]}`, []valWant{{IssueStructure, "Patient.contained[0]"}}},
		{"contained containing", `{"resourceType":"Patient","contained":[{"resourceType":"Patient","contained":[{"resourceType":"Patient"}]}]}`, []valWant{{IssueInvariant, "Patient.contained[0].contained"}}},
		{"bundle entry without resourceType", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"id":"a"}}]}`, []valWant{{IssueRequired, "Bundle.entry[0].resource"}}},
		{"parameters resource", `{"resourceType":"Parameters","parameter":[{"name":"p","resource":{"resourceType":"Patient","gender":"f"}}]}`, []valWant{{IssueCodeInvalid, "Parameters.parameter[0].resource.gender"}}},
		{"bad date", `{"resourceType":"Patient","birthDate":"1970-13-01"}`, []valWant{{IssueValue, "Patient.birthDate"}}},
		{"no such day", `{"resourceType":"Patient","birthDate":"2019-02-29"}`, []valWant{{IssueValue, "Patient.birthDate"}}},
		{"leap day", `{"resourceType":"Patient","birthDate":"2020-02-29"}`, nil},
		{"dateTime without zone", `{"resourceType":"Patient","deceasedDateTime":"2020-01-01T10:00:00"}`, []valWant{{IssueValue, "Patient.deceasedDateTime"}}},
		{"instant without time", `{"resourceType":"Patient","meta":{"lastUpdated":"2020-01-01"}}`, []valWant{{IssueValue, "Patient.meta.lastUpdated"}}},
		{"bad id", `{"resourceType":"Patient","id":"a b"}`, []valWant{{IssueValue, "Patient.id"}}},
		{"id too long", `{"resourceType":"Patient","id":"` + strings.Repeat("a", 65) + `"}`, []valWant{{IssueValue, "Patient.id"}}},
		{"integer too big", `{"resourceType":"Patient","multipleBirthInteger":2147483648}`, []valWant{{IssueValue, "Patient.multipleBirthInteger"}}},
		{"integer with a fraction", `{"resourceType":"Patient","multipleBirthInteger":1.0}`, []valWant{{IssueValue, "Patient.multipleBirthInteger"}}},
		{"integer with an exponent", `{"resourceType":"Patient","multipleBirthInteger":1e2}`, []valWant{{IssueValue, "Patient.multipleBirthInteger"}}},
		{"smallest integer", `{"resourceType":"Patient","multipleBirthInteger":-2147483648}`, nil},
		{"positiveInt zero", `{"resourceType":"Account","coverage":[{"coverage":{"reference":"Coverage/1"},"priority":0}],"status":"active"}`, []valWant{{IssueValue, "Account.coverage[0].priority"}}},
		{"unsignedInt negative", `{"resourceType":"Bundle","type":"searchset","total":-1}`, []valWant{{IssueValue, "Bundle.total"}}},
		{"decimal with exponent", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.5e3}}`, nil},
		{"base64 bad", `{"resourceType":"Binary","contentType":"text/plain","data":"abc"}`, []valWant{{IssueValue, "Binary.data"}}},
		{"base64 good", `{"resourceType":"Binary","contentType":"text/plain","data":"YWJj ZA=="}`, nil},
		{"uri with space", `{"resourceType":"Patient","implicitRules":"http://a b"}`, []valWant{{IssueValue, "Patient.implicitRules"}}},
		{"code with double space", `{"resourceType":"Patient","language":"en  US"}`, []valWant{{IssueValue, "Patient.language"}}},
		{"string with form feed", `{"resourceType":"Patient","name":[{"family":"a\fb"}]}`, []valWant{{IssueValue, "Patient.name[0].family"}}},
		{"oid bad", `{"resourceType":"Patient","identifier":[{"system":"urn:ietf:rfc:3986","value":"x","type":{"coding":[{"system":"urn:oid:1.2.3","code":"a"}]}}],"extension":[{"url":"http://e.org/o","valueOid":"urn:oid:1.02"}]}`, []valWant{{IssueValue, "Patient.extension[0].valueOid"}}},
		{"uuid upper case", `{"resourceType":"Patient","extension":[{"url":"http://e.org/u","valueUuid":"urn:uuid:C757873D-EC9A-4326-A141-556F43239520"}]}`, []valWant{{IssueValue, "Patient.extension[0].valueUuid"}}},
		{"time bad", `{"resourceType":"Patient","extension":[{"url":"http://e.org/t","valueTime":"24:00:00"}]}`, []valWant{{IssueValue, "Patient.extension[0].valueTime"}}},
		{"code outside binding", `{"resourceType":"Patient","gender":"f"}`, []valWant{{IssueCodeInvalid, "Patient.gender"}}},
		{"coded concept in binding", `{"resourceType":"Condition","subject":{"reference":"Patient/1"},"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]}}`, nil},
		{"coded concept with a translation", `{"resourceType":"Condition","subject":{"reference":"Patient/1"},"clinicalStatus":{"coding":[{"system":"http://snomed.info/sct","code":"55561003"},{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]}}`, nil},
		{"coded concept, code without system", `{"resourceType":"Condition","subject":{"reference":"Patient/1"},"clinicalStatus":{"coding":[{"code":"active"}]}}`, nil},
		{"coded concept outside binding", `{"resourceType":"Condition","subject":{"reference":"Patient/1"},"clinicalStatus":{"coding":[{"system":"http://snomed.info/sct","code":"55561003"}]}}`, []valWant{{IssueCodeInvalid, "Condition.clinicalStatus"}}},
		{"coded concept, right code wrong system", `{"resourceType":"Condition","subject":{"reference":"Patient/1"},"clinicalStatus":{"coding":[{"system":"http://example.org","code":"active"}]}}`, []valWant{{IssueCodeInvalid, "Condition.clinicalStatus"}}},
		{"coded concept, text only", `{"resourceType":"Condition","subject":{"reference":"Patient/1"},"clinicalStatus":{"text":"active"}}`, []valWant{{IssueCodeInvalid, "Condition.clinicalStatus"}}},
		{"coded concept, extension only", `{"resourceType":"Condition","subject":{"reference":"Patient/1"},"clinicalStatus":{"extension":[` + ext + `]}}`, nil},
		{"coded concept, coding without code", `{"resourceType":"Condition","subject":{"reference":"Patient/1"},"clinicalStatus":{"coding":[{"display":"Active"}]}}`, nil},
		{"every issue, not the first", `{"resourceType":"Patient","gender":"f","birthDate":"1970-13","active":"yes","name":[{"family":""}],"foo":1}`, []valWant{
			{IssueStructure, "Patient.active"}, {IssueValue, "Patient.birthDate"}, {IssueStructure, "Patient.foo"},
			{IssueCodeInvalid, "Patient.gender"}, {IssueStructure, "Patient.name[0].family"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := Validate(valParse(t, tt.json))
			valCheckIssues(t, is)
			var got []valWant
			for _, i := range is {
				got = append(got, valWant{i.Code, i.Expression[0]})
			}
			sort.Slice(got, func(i, j int) bool { return got[i].expr < got[j].expr })
			ws := append([]valWant(nil), tt.want...)
			sort.Slice(ws, func(i, j int) bool { return ws[i].expr < ws[j].expr })
			if !reflect.DeepEqual(got, ws) {
				t.Errorf("got %v\nwant %v\n%v", got, ws, is)
			}
		})
	}
}

// Maps built by other code: Resource values inside, numbers as float64 or int.
func TestValidateGoValues(t *testing.T) {
	obs := func(v any) Resource {
		return Resource{"resourceType": "Observation", "status": "final", "code": map[string]any{"text": "x"}, "valueInteger": v}
	}
	tests := []struct {
		name string
		r    Resource
		want []valWant
	}{
		{"int", obs(3), nil},
		{"int64 too big", obs(int64(math.MaxInt32) + 1), []valWant{{IssueValue, "Observation.valueInteger"}}},
		{"uint64 huge", obs(uint64(math.MaxUint64)), []valWant{{IssueValue, "Observation.valueInteger"}}},
		{"float64 whole", obs(3.0), nil},
		{"float64 fraction", obs(3.5), []valWant{{IssueValue, "Observation.valueInteger"}}},
		{"float64 NaN", obs(math.NaN()), []valWant{{IssueValue, "Observation.valueInteger"}}},
		{"float64 too big", obs(3e10), []valWant{{IssueValue, "Observation.valueInteger"}}},
		{"string", obs("3"), []valWant{{IssueStructure, "Observation.valueInteger"}}},
		{"bool", obs(true), []valWant{{IssueStructure, "Observation.valueInteger"}}},
		{"json.Number", obs(json.Number("3")), nil},
		{"json.Number garbage", obs(json.Number("three")), []valWant{{IssueValue, "Observation.valueInteger"}}},
		{"decimal float64", Resource{"resourceType": "Observation", "status": "final", "code": map[string]any{"text": "x"}, "valueQuantity": map[string]any{"value": 1.25}}, nil},
		{"decimal infinite", Resource{"resourceType": "Observation", "status": "final", "code": map[string]any{"text": "x"}, "valueQuantity": map[string]any{"value": math.Inf(1)}}, []valWant{{IssueValue, "Observation.valueQuantity.value"}}},
		{"[]string is not JSON", Resource{"resourceType": "Patient", "name": []any{map[string]any{"given": []string{"a"}}}}, []valWant{{IssueStructure, "Patient.name[0].given"}}},
		{"nested Resource", Resource{"resourceType": "Bundle", "type": "collection", "entry": []any{map[string]any{"resource": Resource{"resourceType": "Patient", "gender": "x"}}}}, []valWant{{IssueCodeInvalid, "Bundle.entry[0].resource.gender"}}},
		{"nil", nil, []valWant{{IssueRequired, "Resource"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := Validate(tt.r)
			valCheckIssues(t, is)
			var got []valWant
			for _, i := range is {
				got = append(got, valWant{i.Code, i.Expression[0]})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v\n%v", got, tt.want, is)
			}
		})
	}
}

// A map that holds itself must not exhaust the stack.
func TestValidateCycle(t *testing.T) {
	ext := map[string]any{"url": "http://e.org/a"}
	ext["extension"] = []any{ext}
	r := Resource{"resourceType": "Patient", "extension": []any{ext}}
	is := Validate(r)
	found := false
	for _, i := range is {
		found = found || strings.Contains(i.Diagnostics, "nested too deeply")
	}
	if !found {
		t.Errorf("no depth issue among %d issues", len(is))
	}
}

// Coding bindings: no base R4 element binds a Coding to an enumerable value
// set, so the rule is tested directly.
func TestValidateCodingBinding(t *testing.T) {
	url := "http://hl7.org/fhir/ValueSet/administrative-gender"
	tests := []struct {
		coding map[string]any
		ok     bool
	}{
		{map[string]any{"system": "http://hl7.org/fhir/administrative-gender", "code": "male"}, true},
		{map[string]any{"code": "male"}, true},
		{map[string]any{"system": "http://example.org", "code": "male"}, false},
		{map[string]any{"system": "http://hl7.org/fhir/administrative-gender", "code": "m"}, false},
		{map[string]any{"display": "Male"}, true},
	}
	for _, tt := range tests {
		v := newValidator()
		v.push("Thing")
		v.push("coding")
		v.checkBinding(tt.coding, "Coding", url)
		if ok := len(v.issues) == 0; ok != tt.ok {
			t.Errorf("%v: ok = %v, want %v (%v)", tt.coding, ok, tt.ok, v.issues)
		}
		if !tt.ok && !valHasIssue(v.issues, IssueCodeInvalid, "Thing.coding.code") {
			t.Errorf("%v: %v", tt.coding, v.issues)
		}
	}
}

// Every R4 type fits the validator's element sets.
func TestValidateBitsFit(t *testing.T) {
	for _, ti := range definitions().types {
		if len(ti.elements) > 256 {
			t.Errorf("%s has %d elements: elemBits holds 256", ti.name, len(ti.elements))
		}
	}
}

// Issues come sorted, the same for the same input whatever the map order,
// and never carry the value found.
func TestValidateDeterministicAndQuiet(t *testing.T) {
	secret := "Zebediah-7741"
	r := valParse(t, `{"resourceType":"Patient","id":"`+secret+` x","gender":"`+secret+`","birthDate":"`+secret+`",
		"name":[{"family":"`+secret+`\f","given":[1]}],"`+secret+`":1,"telecom":[{"system":"`+secret+`"}],"active":"`+secret+`"}`)
	first := Validate(r)
	if len(first) < 6 {
		t.Fatalf("only %d issues: %v", len(first), first)
	}
	for i := 0; i < 20; i++ {
		if again := Validate(r); !reflect.DeepEqual(first, again) {
			t.Fatalf("run %d differs:\n%v\n%v", i, first, again)
		}
	}
	if !sort.SliceIsSorted(first, func(i, j int) bool { return first[i].Expression[0] < first[j].Expression[0] }) {
		t.Errorf("not sorted by location: %v", first)
	}
	for _, i := range first {
		if strings.Contains(i.Diagnostics, "Zebediah") {
			t.Errorf("diagnostic echoes the value: %v", i)
		}
	}
}

func TestValidateConcurrent(t *testing.T) {
	var rs []Resource
	var want []Issues
	for _, path := range examples(t, "json") {
		r := valExample(t, filepath.Base(path))
		r["gender"] = "nope" // an issue in most, so that reporting runs too
		rs = append(rs, r)
		want = append(want, Validate(r))
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := range rs {
				j := (i + g*61) % len(rs)
				if got := Validate(rs[j]); !reflect.DeepEqual(got, want[j]) {
					t.Errorf("resource %d: concurrent result differs", j)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

// The valid path allocates nothing (the pool is bypassed: the race
// detector makes it drop items on purpose).
func TestValidateAllocs(t *testing.T) {
	r := valExample(t, "Patient-example.json")
	v := newValidator()
	if n := testing.AllocsPerRun(100, func() { v.run(r) }); n != 0 {
		t.Errorf("Validate of a valid Patient: %v allocations, want 0", n)
	}
}

// The mutation corpus: every example that validates is broken in every way
// the model allows at many places, and Validate must report each break
// with its code at its exact location.

// step is one key (and repetition, -1 for none) from a resource's root.
type valStep struct {
	key   string
	index int
}

// site is a place in an example where a mutation can apply.
type valSite struct {
	kind  valSiteKind
	steps []valStep // to the object (siteObject), the element's object (siteElement) or the value (siteValue)
	path  string    // the FHIRPath-style location of the same
	t     *typeInfo // siteObject: the object's type
	key   string    // siteElement: the element's JSON name
	ref   elementRef
	res   bool // siteObject: the object is a resource; siteElement: the element's object is
}

type valSiteKind int

const (
	valSiteObject  valSiteKind = iota // a JSON object of type t
	valSiteElement                    // an element key inside the object at steps
	valSiteValue                      // one value (an array item or a single value) at steps
)

func valAppendStep(steps []valStep, s valStep) []valStep {
	return append(append([]valStep(nil), steps...), s)
}

// collectSites walks a resource along the model, in key order.
func valCollectSites(m *model, obj map[string]any, t *typeInfo, steps []valStep, path string, res bool, add func(valSite)) {
	add(valSite{kind: valSiteObject, steps: steps, path: path, t: t, res: res})
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ref, ok := t.element(k)
		if !ok || k == "resourceType" {
			continue
		}
		add(valSite{kind: valSiteElement, steps: steps, path: path, key: k, ref: ref, res: res})
		var items []any
		var idx []int
		if arr, ok := obj[k].([]any); ok {
			for i, it := range arr {
				items, idx = append(items, it), append(idx, i)
			}
		} else {
			items, idx = []any{obj[k]}, []int{-1}
		}
		for n, it := range items {
			if it == nil {
				continue
			}
			st := valAppendStep(steps, valStep{k, idx[n]})
			p := path + "." + k
			if idx[n] >= 0 {
				p += fmt.Sprintf("[%d]", idx[n])
			}
			add(valSite{kind: valSiteValue, steps: st, path: p, ref: ref})
			sub, _ := it.(map[string]any)
			switch {
			case sub == nil:
			case ref.typ == "Resource":
				rt, _ := sub["resourceType"].(string)
				if rtype := m.resourceType(rt); rtype != nil {
					valCollectSites(m, sub, rtype, st, p, true, add)
				}
			case m.typeOf(ref.typ) != nil && !m.isPrimitive(ref.typ):
				valCollectSites(m, sub, m.typeOf(ref.typ), st, p, false, add)
			}
		}
	}
}

func valDeepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(x))
		for k, e := range x {
			c[k] = valDeepCopy(e)
		}
		return c
	case Resource:
		return Resource(valDeepCopy(map[string]any(x)).(map[string]any))
	case []any:
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = valDeepCopy(e)
		}
		return c
	}
	return v
}

// follow returns the object reached by steps.
func valFollow(r Resource, steps []valStep) map[string]any {
	obj := map[string]any(r)
	for _, s := range steps {
		v := obj[s.key]
		if s.index >= 0 {
			v = v.([]any)[s.index]
		}
		obj = v.(map[string]any)
	}
	return obj
}

// setAt replaces the value at steps (a value site).
func valSetAt(r Resource, steps []valStep, val any) {
	last := steps[len(steps)-1]
	obj := valFollow(r, steps[:len(steps)-1])
	if last.index >= 0 {
		obj[last.key].([]any)[last.index] = val
	} else {
		obj[last.key] = val
	}
}

// badValues are broken values for each primitive type, with the issue code
// each must give.
var valBadValues = map[string][]struct {
	val  any
	code IssueType
}{
	"date":         {{"1970-13-01", IssueValue}, {"2019-02-29", IssueValue}, {"70-01-01", IssueValue}, {json.Number("1970"), IssueStructure}},
	"dateTime":     {{"2020-01-01T10:00", IssueValue}, {"2020-01-01T10:00:00", IssueValue}, {"2020-04-31", IssueValue}},
	"instant":      {{"2020-01-01", IssueValue}, {"2020-01-01T25:00:00Z", IssueValue}},
	"time":         {{"25:00:00", IssueValue}, {"10:00", IssueValue}},
	"id":           {{"has space", IssueValue}, {strings.Repeat("x", 65), IssueValue}},
	"decimal":      {{"12.5", IssueStructure}, {json.Number("012.5"), IssueValue}, {true, IssueStructure}},
	"integer":      {{json.Number("2147483648"), IssueValue}, {json.Number("1.5"), IssueValue}, {"7", IssueStructure}},
	"positiveInt":  {{json.Number("0"), IssueValue}, {json.Number("2147483648"), IssueValue}},
	"unsignedInt":  {{json.Number("-1"), IssueValue}, {json.Number("4294967296"), IssueValue}},
	"boolean":      {{"true", IssueStructure}, {json.Number("1"), IssueStructure}},
	"base64Binary": {{"abc", IssueValue}, {"ab$d", IssueValue}},
	"code":         {{" lead-code", IssueValue}, {"two  spaces", IssueValue}},
	"uri":          {{"has space", IssueValue}},
	"url":          {{"http://a b", IssueValue}},
	"canonical":    {{"http://a b", IssueValue}},
	"oid":          {{"urn:oid:1.02", IssueValue}},
	"uuid":         {{"urn:uuid:1234", IssueValue}},
	"string":       {{"form\ffeed", IssueValue}, {"", IssueStructure}, {map[string]any{"value": "x"}, IssueStructure}},
	"markdown":     {{"form\ffeed", IssueValue}, {"", IssueStructure}},
	"xhtml":        {{"<p>not a div</p>", IssueValue}},
}

type valMutation struct {
	name   string
	file   string
	mutate func(r Resource)
	want   valWant
	secret string // a value written by the mutation, which no diagnostic may echo
}

// mutationsFor builds the cases for one example, taking at most perKind
// sites for each kind of mutation.
func valMutationsFor(m *model, file string, r Resource, perKind int) []valMutation {
	var cases []valMutation
	count := map[string]int{}
	add := func(kind string, c valMutation) {
		if count[kind] >= perKind {
			return
		}
		count[kind]++
		c.name = fmt.Sprintf("%s/%s/%s", strings.TrimSuffix(file, ".json"), kind, c.want.expr)
		c.file = file
		cases = append(cases, c)
	}
	root := m.resourceType(r.Type())
	valCollectSites(m, r, root, nil, root.name, true, func(s valSite) {
		switch s.kind {
		case valSiteObject:
			// Remove each required element present.
			for i := range s.t.elements {
				el := &s.t.elements[i]
				if el.min < 1 {
					continue
				}
				steps, name := s.steps, el.name
				of := func(k string) bool {
					ref, ok := s.t.element(strings.TrimPrefix(k, "_"))
					return ok && ref.el == el
				}
				// Without its only element an element is an empty object,
				// which is reported as such rather than by its children.
				w := valWant{IssueStructure, s.path}
				for k := range valFollow(r, steps) {
					if !of(k) || s.res {
						w = valWant{IssueRequired, s.path + "." + name}
					}
				}
				add("remove-required", valMutation{mutate: func(r Resource) {
					obj := valFollow(r, steps)
					for k := range obj {
						if of(k) {
							delete(obj, k)
						}
					}
				}, want: w})
			}
			// Add an unknown element.
			steps := s.steps
			add("unknown-element", valMutation{mutate: func(r Resource) {
				valFollow(r, steps)["unknownElementXyz"] = "x"
			}, want: valWant{IssueStructure, s.path + ".unknownElementXyz"}})

		case valSiteElement:
			el, steps, key := s.ref.el, s.steps, s.key
			if strings.HasPrefix(key, "_") {
				return
			}
			at := s.path + "." + key
			if el.max != 1 {
				add("empty-array", valMutation{mutate: func(r Resource) {
					valFollow(r, steps)[key] = []any{}
				}, want: valWant{IssueStructure, at}})
				add("null-in-array", valMutation{mutate: func(r Resource) {
					obj := valFollow(r, steps)
					arr, _ := obj[key].([]any)
					obj[key] = append(append([]any(nil), arr...), nil)
					delete(obj, "_"+key)
				}, want: valWant{IssueStructure, fmt.Sprintf("%s[%d]", at, valArrayLen(valFollow(r, steps)[key]))}})
				add("single-for-array", valMutation{mutate: func(r Resource) {
					obj := valFollow(r, steps)
					if arr, ok := obj[key].([]any); ok && len(arr) > 0 {
						obj[key] = arr[0]
					}
				}, want: valWant{IssueStructure, at}})
			} else {
				add("array-for-single", valMutation{mutate: func(r Resource) {
					obj := valFollow(r, steps)
					obj[key] = []any{obj[key]}
				}, want: valWant{IssueStructure, at}})
			}
			prim := m.isPrimitive(s.ref.typ) && s.ref.typ != "xhtml" && !el.xmlAttr && !(key == "id" && s.res)
			if prim && el.max == 1 {
				add("extension-without-url", valMutation{mutate: func(r Resource) {
					valFollow(r, steps)["_"+key] = map[string]any{"extension": []any{map[string]any{"valueString": "x"}}}
				}, want: valWant{IssueRequired, s.path + "._" + key + ".extension[0].url"}})
			}
			if prim && el.max != 1 {
				add("underscore-misaligned", valMutation{mutate: func(r Resource) {
					obj := valFollow(r, steps)
					n := valArrayLen(obj[key])
					ext := make([]any, n+1)
					ext[n] = map[string]any{"id": "x"}
					obj["_"+key] = ext
				}, want: valWant{IssueStructure, s.path + "._" + key}})
			}
			if !prim && s.ref.typ != "xhtml" {
				add("underscore-on-complex", valMutation{mutate: func(r Resource) {
					valFollow(r, steps)["_"+key] = map[string]any{"id": "x"}
				}, want: valWant{IssueStructure, s.path + "._" + key}})
			}
			if el.choice {
				// Add a value of another type of the same choice.
				for _, other := range el.types {
					if other == s.ref.typ {
						continue
					}
					var val any = map[string]any{"extension": []any{map[string]any{"url": "http://e.org/a", "valueString": "x"}}}
					if p := m.primitives[other]; p != nil {
						val = map[jsonKind]any{jsonString: "x", jsonNumber: json.Number("1"), jsonBool: true}[p.json]
					}
					name := el.name + upperFirst(other)
					add("two-choice-values", valMutation{mutate: func(r Resource) {
						valFollow(r, steps)[name] = val
					}, want: valWant{IssueInvariant, s.path + "." + el.name}})
					break
				}
			}

		case valSiteValue:
			steps := s.steps
			typ := s.ref.typ
			for i, bad := range valBadValues[typ] {
				if typ == "xhtml" && i > 0 {
					break
				}
				bad := bad
				secret, _ := bad.val.(string)
				add("bad-"+typ+fmt.Sprint(i), valMutation{mutate: func(r Resource) {
					valSetAt(r, steps, bad.val)
				}, want: valWant{bad.code, s.path}, secret: secret})
			}
			if !m.isPrimitive(typ) {
				add("string-for-object", valMutation{mutate: func(r Resource) {
					valSetAt(r, steps, "just a string")
				}, want: valWant{IssueStructure, s.path}})
			}
			if b := s.ref.el.binding; b != "" && m.valueSets[b] != nil {
				switch typ {
				case "code":
					add("code-outside-binding", valMutation{mutate: func(r Resource) {
						valSetAt(r, steps, "no-such-code-xq")
					}, want: valWant{IssueCodeInvalid, s.path}, secret: "no-such-code-xq"})
				case "CodeableConcept":
					add("concept-outside-binding", valMutation{mutate: func(r Resource) {
						valSetAt(r, steps, map[string]any{"coding": []any{map[string]any{"system": "http://example.org/cs", "code": "no-such-code-xq"}}})
					}, want: valWant{IssueCodeInvalid, s.path}, secret: "no-such-code-xq"})
				}
			}
		}
	})
	return cases
}

func valArrayLen(v any) int {
	arr, _ := v.([]any)
	return len(arr)
}

func TestValidateMutations(t *testing.T) {
	m := definitions()
	perKind := 3
	if testing.Short() {
		perKind = 1
	}
	var tests []valMutation
	originals := map[string]Resource{}
	for _, path := range examples(t, "json") {
		file := filepath.Base(path)
		if _, bad := valInvalidExamples[file]; bad {
			continue
		}
		r := valExample(t, file)
		originals[file] = r
		tests = append(tests, valMutationsFor(m, file, r, perKind)...)
	}
	kinds := map[string]int{}
	for _, tt := range tests {
		kinds[strings.Split(tt.name, "/")[1]]++
	}
	t.Logf("%d mutation cases over %d examples: %v", len(tests), len(originals), kinds)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := valDeepCopy(originals[tt.file]).(Resource)
			tt.mutate(r)
			is := Validate(r)
			valCheckIssues(t, is)
			if !valHasIssue(is, tt.want.code, tt.want.expr) {
				t.Errorf("want %s at %s, got:\n%v", tt.want.code, tt.want.expr, is)
			}
			if len(tt.secret) >= 8 {
				for _, i := range is {
					if strings.Contains(i.Diagnostics, tt.secret) {
						t.Errorf("diagnostic echoes the value: %v", i)
					}
				}
			}
		})
	}
}

// BenchmarkDecodeValidatePatient is the gateway's path for one resource:
// ParseJSON then Validate. Compare with BenchmarkStdDecodePatient.
func BenchmarkDecodeValidatePatient(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "fhir", "examples", "Patient-example.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := ParseJSON(data)
		if err != nil {
			b.Fatal(err)
		}
		if is := Validate(r); len(is) > 0 {
			b.Fatal(is)
		}
	}
}

// BenchmarkStdDecodePatient is the yardstick: encoding/json into a map.
func BenchmarkStdDecodePatient(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "fhir", "examples", "Patient-example.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidatePatient is Validate alone.
func BenchmarkValidatePatient(b *testing.B) {
	r := valExample(b, "Patient-example.json")
	b.ReportAllocs()
	for b.Loop() {
		if is := Validate(r); len(is) > 0 {
			b.Fatal(is)
		}
	}
}
