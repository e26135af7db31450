package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// DefaultMaxBody is DecodeJSON's body limit when max <= 0.
const DefaultMaxBody = 1 << 20

// maxDepth bounds the nesting of a request document (encoding/json stops
// at 10 000; no API body needs more than a few levels).
const maxDepth = 64

// RequireJSON checks that r declares a JSON body: Content-Type
// application/json, with no parameter other than charset=utf-8. Anything
// else is a 415 *Error. Browsers send text/plain, form and multipart
// bodies across origins without a preflight; refusing them makes a JSON
// POST route safe from cross-site request forgery.
func RequireJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return Errorf(http.StatusUnsupportedMediaType, "Content-Type must be application/json (none given)")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return Errorf(http.StatusUnsupportedMediaType, "Content-Type must be application/json, not %.60q", ct)
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return Errorf(http.StatusUnsupportedMediaType, "Content-Type must be application/json (charset utf-8 only)")
		}
	}
	return nil
}

// DecodeJSON is the one way a route reads a JSON request body into v:
// RequireJSON (415), at most max bytes (DefaultMaxBody when max <= 0; 413),
// then UnmarshalStrict (400). Failures are *Error with a message naming the
// problem.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any, max int64) error {
	if err := RequireJSON(r); err != nil {
		return err
	}
	if max <= 0 {
		max = DefaultMaxBody
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return Errorf(http.StatusRequestEntityTooLarge, "request body larger than %d bytes", max)
		}
		return &Error{Status: http.StatusBadRequest, Message: "could not read the request body", Err: err}
	}
	if err := UnmarshalStrict(body, v); err != nil {
		return &Error{Status: http.StatusBadRequest, Message: "invalid JSON body: " + err.Error()}
	}
	return nil
}

// UnmarshalStrict decodes exactly one JSON value from data into v and
// refuses what encoding/json lets through:
//   - trailing data after the value ("more than one value", garbage);
//   - a key repeated in one object (encoding/json keeps the last one);
//   - two keys of one object that differ only by case ("data" and "Data");
//   - a key that matches a struct field only when case is ignored ("Data"
//     for a field tagged "data"), since encoding/json matches case-blind;
//   - unknown fields of a struct, nesting deeper than 64 levels.
//
// Error messages name the key and its path ("data.events[2]") and never
// contain values.
func UnmarshalStrict(data []byte, v any) error {
	if err := CheckKeys(data, v); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	return nil
}

// CheckKeys is UnmarshalStrict without the decoding: data must be one
// JSON value with no trailing data, no duplicate or case-only-different
// keys, and keys spelled exactly as the fields of v (a pointer, usually to
// a struct; nil checks the shape only). Use it where another decoder
// (e.g. one with its own error mapping) does the decoding afterwards.
func CheckKeys(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return errors.New("the body is empty (want a JSON value)")
	}
	var t reflect.Type
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() {
		t = rv.Type().Elem()
	}
	s := &scanner{dec: json.NewDecoder(bytes.NewReader(data))}
	s.dec.UseNumber()
	if err := s.value(t, "", 0); err != nil {
		return err
	}
	if _, err := s.dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// decodeError shortens encoding/json's messages and drops values from them.
func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Errorf("field %s: must be a JSON %s, not %s", te.Field, jsonKind(te.Type), te.Value)
		}
		return fmt.Errorf("must be a JSON %s, not %s", jsonKind(te.Type), te.Value)
	}
	// Unknown fields and syntax were refused by CheckKeys with their own
	// messages; what is left has no message fit for a client.
	return errors.New("the body does not match the expected document")
}

func jsonKind(t reflect.Type) string {
	if t == nil {
		return "value"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8,
		reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	}
	return "value"
}

// scanner walks the token stream once, alongside the Go type the value
// will be decoded into (nil when it is untyped: any, json.RawMessage…).
type scanner struct {
	dec *json.Decoder
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

func (s *scanner) value(t reflect.Type, path string, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("nested deeper than %d levels at %s", maxDepth, where(path))
	}
	tok, err := s.dec.Token()
	if err != nil {
		return syntaxError(err)
	}
	t = deref(t)
	if t == rawMessageType || (t != nil && t.Kind() == reflect.Interface) {
		t = nil // any shape; still checked for duplicates
	}
	switch tok {
	case json.Delim('{'):
		return s.object(t, path, depth)
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; s.dec.More(); i++ {
			if err := s.value(elem, path+"["+strconv.Itoa(i)+"]", depth+1); err != nil {
				return err
			}
		}
		if _, err := s.dec.Token(); err != nil {
			return syntaxError(err)
		}
	}
	return nil
}

func (s *scanner) object(t reflect.Type, path string, depth int) error {
	var fields map[string]reflect.Type // exact JSON name → type, for structs
	var folded map[string]string       // lower-cased name → exact name
	var elem reflect.Type
	if t != nil {
		switch t.Kind() {
		case reflect.Struct:
			fields, folded = structFields(t)
		case reflect.Map:
			elem = t.Elem()
		}
	}
	seen := map[string]string{} // lower-cased key → key as sent
	for s.dec.More() {
		tok, err := s.dec.Token()
		if err != nil {
			return syntaxError(err)
		}
		key, _ := tok.(string)
		kpath := joinPath(path, key)
		low := strings.ToLower(key)
		if prev, dup := seen[low]; dup {
			if prev == key {
				return fmt.Errorf("duplicate key %s", quote(kpath))
			}
			return fmt.Errorf("keys %s and %s differ only by case", quote(joinPath(path, prev)), quote(kpath))
		}
		seen[low] = key
		vt := elem
		if fields != nil {
			ft, exact := fields[key]
			if !exact {
				if want, ok := folded[low]; ok {
					return fmt.Errorf("key %s must be spelled %q", quote(kpath), want)
				}
				if !decodesItself(t) {
					return fmt.Errorf("unknown field %s", quote(key))
				}
			}
			vt = ft
		}
		if err := s.value(vt, kpath, depth+1); err != nil {
			return err
		}
	}
	if _, err := s.dec.Token(); err != nil {
		return syntaxError(err)
	}
	return nil
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// decodesItself reports a type with its own UnmarshalJSON, which decides
// for itself which keys it accepts.
func decodesItself(t reflect.Type) bool {
	return t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType)
}

func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

var fieldCache sync.Map // reflect.Type → [2]map

// structFields lists the JSON names encoding/json decodes into struct t
// (tags, untagged exported fields, embedded structs flattened).
func structFields(t reflect.Type) (map[string]reflect.Type, map[string]string) {
	if c, ok := fieldCache.Load(t); ok {
		p := c.(*[2]any)
		return p[0].(map[string]reflect.Type), p[1].(map[string]string)
	}
	fields := map[string]reflect.Type{}
	addFields(t, fields, 0)
	folded := make(map[string]string, len(fields))
	for name := range fields {
		folded[strings.ToLower(name)] = name
	}
	fieldCache.Store(t, &[2]any{fields, folded})
	return fields, folded
}

func addFields(t reflect.Type, into map[string]reflect.Type, depth int) {
	if depth > 8 {
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			if et := deref(f.Type); et.Kind() == reflect.Struct {
				addFields(et, into, depth+1)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, taken := into[name]; !taken {
			into[name] = f.Type
		}
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func where(path string) string {
	if path == "" {
		return "the top level"
	}
	return quote(path)
}

// quote prints a key path, bounded so a huge key cannot fill the message.
func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return strconv.Quote(s)
}

func syntaxError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("unexpected end of JSON input")
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%s (at byte %d)", se.Error(), se.Offset)
	}
	return errors.New("invalid JSON")
}
