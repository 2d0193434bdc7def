package fhir

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// DecodeModel returns a typed copy of the resource as one of the structs of
// github.com/samply/golang-fhir-models (fhir-models/fhir), for code that
// wants typed fields and enums:
//
//	p, err := fhir.DecodeModel[models.Patient](res)
//
// The copy is a read-only view: those structs drop primitive extensions
// ("_birthDate"), contained resources and unknown elements, so the Resource
// stays the copy that travels. It fails when T is not named after the
// resource's type.
func DecodeModel[T any](r Resource) (*T, error) {
	name := reflect.TypeFor[T]().Name()
	if rt := r.Type(); rt != name {
		return nil, fmt.Errorf("decode %s as %s: resource types differ", rt, name)
	}
	data, err := EncodeJSON(r)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", name, err)
	}
	v := new(T)
	if err := json.Unmarshal(data, v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", name, err)
	}
	return v, nil
}
