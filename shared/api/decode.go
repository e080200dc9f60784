package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/knot-dev/knot/shared"
)

// MaxBody is the largest request body the API accepts.
const MaxBody = 1 << 20

// Decode reads exactly one JSON object from rd into v, which points to a
// struct. Unknown fields, trailing data, a body that is not an object and a
// value of the wrong type are EINVALID errors that name the field; a body
// over the limit of an http.MaxBytesReader of MaxBody is ETOOLARGE.
func Decode(rd io.Reader, v any) error {
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	switch _, err := dec.Token(); {
	case errors.Is(err, io.EOF):
		return nil
	case err == nil:
		return invalid("request body holds more than one JSON value")
	default:
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return tooLarge()
		}
		return invalid("request body has data after the JSON object")
	}
}

func invalid(format string, args ...any) error {
	return shared.Errorf(shared.EINVALID, format, args...)
}

func tooLarge() error {
	return shared.Errorf(shared.ETOOLARGE, "request body is larger than %d bytes (1 MiB)", MaxBody)
}

// jsonError turns a decoding error into a message for the client.
func jsonError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		mb  *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mb):
		return tooLarge()
	case errors.Is(err, io.EOF):
		return invalid("request body is empty: a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("request body is not valid JSON: it ends too early")
	case errors.As(err, &syn):
		return invalid("request body is not valid JSON at byte %d: %s", syn.Offset, strings.TrimPrefix(syn.Error(), "json: "))
	case errors.As(err, &typ):
		if typ.Field == "" {
			return invalid("request body must be a JSON object, not %s", describeJSON(typ.Value))
		}
		return invalid("field %q must be %s, not %s", typ.Field, describeType(typ.Type), describeJSON(typ.Value))
	}
	msg := err.Error()
	if i := strings.Index(msg, "unknown field "); i >= 0 {
		return invalid("request body has an %s", msg[i:])
	}
	return invalid("request body is not valid JSON: %s", strings.TrimPrefix(msg, "json: "))
}

func describeJSON(v string) string {
	switch {
	case v == "":
		return "this value"
	case v == "number":
		return "a number"
	case strings.HasPrefix(v, "number "):
		return "the number " + strings.TrimPrefix(v, "number ") + " (out of range or not whole)"
	}
	return "a JSON " + v
}

func describeType(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "a value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Int8, reflect.Int16, reflect.Int32:
		bits := t.Bits()
		return fmt.Sprintf("a whole number from %d to %d", -(int64(1) << (bits - 1)), int64(1)<<(bits-1)-1)
	case reflect.Uint, reflect.Uint64:
		return "a whole number from 0"
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return fmt.Sprintf("a whole number from 0 to %d", uint64(1)<<t.Bits()-1)
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a " + t.Kind().String()
}
