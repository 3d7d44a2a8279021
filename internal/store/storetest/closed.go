package storetest

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
)

// testClosed: every method of a closed store fails with ErrUnavailable,
// never with ErrNotFound or ErrConflict, so no caller mistakes an outage
// for an answer about the records (a missing session, someone else's
// event). Each method is called with plausible arguments, found by
// reflection so a method added later is covered too.
func testClosed(t *testing.T, s store.Store) {
	check(t, "close", s.Close())
	v := reflect.ValueOf(s)
	api := reflect.TypeFor[store.Store]()
	for i := range api.NumMethod() {
		m := api.Method(i)
		if m.Name == "Close" {
			continue
		}
		fn := v.MethodByName(m.Name)
		args := make([]reflect.Value, fn.Type().NumIn())
		for j := range args {
			args[j] = plausible(t, fn.Type().In(j))
		}
		call := fn.Call
		if fn.Type().IsVariadic() {
			call = fn.CallSlice
		}
		out := call(args)
		err, _ := out[len(out)-1].Interface().(error)
		if err == nil {
			t.Errorf("%s on a closed store: no error", m.Name)
			continue
		}
		if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
			t.Errorf("%s on a closed store: %v, want ErrUnavailable", m.Name, err)
		}
	}
}

// plausible is an argument of type typ that a live store would act on:
// a context, fresh IDs, a positive number, the suite's time, one item in
// a list, a callback returning zero values.
func plausible(t *testing.T, typ reflect.Type) reflect.Value {
	switch {
	case typ.Implements(reflect.TypeFor[interface{ Done() <-chan struct{} }]()):
		return reflect.ValueOf(t.Context())
	case typ == reflect.TypeFor[time.Time]():
		return reflect.ValueOf(at(0))
	case typ == reflect.TypeFor[time.Duration]():
		return reflect.ValueOf(time.Hour)
	case typ == reflect.TypeFor[store.SealedColumn]():
		return reflect.ValueOf(store.HomeDataKeys)
	}
	v := reflect.New(typ).Elem()
	switch typ.Kind() {
	case reflect.String:
		v.SetString(id.New())
	case reflect.Int, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Slice:
		v = reflect.MakeSlice(typ, 1, 1)
		v.Index(0).Set(plausible(t, typ.Elem()))
	case reflect.Struct:
		for i := range typ.NumField() {
			if typ.Field(i).IsExported() {
				v.Field(i).Set(plausible(t, typ.Field(i).Type))
			}
		}
	case reflect.Func:
		v = reflect.MakeFunc(typ, func([]reflect.Value) []reflect.Value {
			out := make([]reflect.Value, typ.NumOut())
			for i := range out {
				out[i] = reflect.New(typ.Out(i)).Elem()
			}
			return out
		})
	}
	return v
}
