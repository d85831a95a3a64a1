package agentshare_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	agentshare "github.com/agentshare/agentshare/clients/go"
)

func TestServerComesFromOptionEnvironmentOrDefault(t *testing.T) {
	server := env(t, "AGENTSHARE_SERVER")
	if got := agentshare.NewClient("k").Server(); got != server {
		t.Errorf("from AGENTSHARE_SERVER: got %q, want %q", got, server)
	}
	if got := agentshare.NewClient("k", agentshare.WithServer("https://share.example.com/")).Server(); got != "https://share.example.com" {
		t.Errorf("WithServer: got %q", got)
	}
	t.Setenv("AGENTSHARE_SERVER", "")
	if got := agentshare.NewClient("k").Server(); got != "http://127.0.0.1:8080" {
		t.Errorf("default: got %q", got)
	}
}

func TestHealth(t *testing.T) {
	h := must(alice(t).Health())(t)
	if h.Status != "ok" || h.Database != "sqlite" {
		t.Fatalf("health: %+v", h)
	}
}

func TestReady(t *testing.T) {
	r := must(alice(t).Ready())(t)
	want := agentshare.ReadyChecks{Database: true, Migrations: true, ViewWriter: true, Workers: true}
	if r.Status != "ready" || r.Database != "sqlite" || r.Checks != want || len(r.Reasons) != 0 {
		t.Fatalf("readiness: %+v", r)
	}
}

func TestWithHTTPClientIsUsed(t *testing.T) {
	// A client whose every request times out at once fails every call, which
	// shows requests go through the *http.Client given.
	slow := &http.Client{Timeout: time.Nanosecond}
	_, err := agentshare.NewClient(env(t, "AGENTSHARE_API_KEY"), agentshare.WithHTTPClient(slow)).Health()
	if err == nil {
		t.Fatal("a request through an http.Client with a 1ns timeout succeeded")
	}
}

func TestErrorsCarryStatusCodeMessageAndField(t *testing.T) {
	c := alice(t)

	_, err := agentshare.NewClient("ask_not-a-key").Tasks.List(nil)
	expectError(t, err, 401, "UNAUTHORIZED")

	_, err = c.Tasks.Get("task_0000000000000000")
	apiErr := expectError(t, err, 404, "TASK_NOT_FOUND")
	if apiErr.Message == "" || !strings.Contains(err.Error(), apiErr.Message) {
		t.Errorf("Error() %q does not carry the message %q", err.Error(), apiErr.Message)
	}

	_, err = c.Tasks.Create(&agentshare.CreateTaskRequest{Title: "   "})
	apiErr = expectError(t, err, 400, "INVALID_REQUEST")
	if apiErr.Field != "title" || apiErr.Details["field"] != "title" || apiErr.Issue() == "" {
		t.Errorf("details: field %q, details %v", apiErr.Field, apiErr.Details)
	}
	if !strings.Contains(err.Error(), "title") || !strings.Contains(err.Error(), apiErr.Issue()) {
		t.Errorf("Error() %q does not name the field and say why (%q)", err.Error(), apiErr.Issue())
	}

	// The share-code API's errors ({"code", "error", "message"}) read the same way.
	_, err = c.ShareCodes.Exchange("not-a-code")
	apiErr = expectError(t, err, 401, "INVALID_SHARE_CODE")
	if apiErr.Kind != "unauthorized" || apiErr.Message == "" {
		t.Errorf("share-code error: %+v", apiErr)
	}
	var target *agentshare.Error
	if !errors.As(err, &target) || target != apiErr {
		t.Error("errors.As does not find the *Error")
	}
}

// The coverage table must name every operation the server has, and only real
// methods and real operations.
func TestEveryOperationIsCovered(t *testing.T) {
	resp, err := http.Get(env(t, "AGENTSHARE_SERVER") + "/openapi.json")
	check(t, err)
	defer resp.Body.Close()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	check(t, json.NewDecoder(resp.Body).Decode(&doc))
	server := map[string]bool{}
	for _, methods := range doc.Paths {
		for _, raw := range methods {
			var op struct {
				OperationID string `json:"operationId"`
			}
			if json.Unmarshal(raw, &op) == nil && op.OperationID != "" {
				server[op.OperationID] = true
			}
		}
	}
	if len(server) == 0 {
		t.Fatal("the server's OpenAPI document lists no operation")
	}

	var missing, gone, broken []string
	for id := range server {
		if _, ok := agentshare.Operations[id]; !ok {
			missing = append(missing, id)
		}
	}
	types := publicTypes()
	for id, method := range agentshare.Operations {
		if !server[id] {
			gone = append(gone, id)
		}
		if problem := checkMethod(types, method); problem != "" {
			broken = append(broken, id+" → "+method+": "+problem)
		}
	}
	sort.Strings(missing)
	sort.Strings(gone)
	sort.Strings(broken)
	if len(missing) > 0 {
		t.Errorf("operations of the server the client does not cover: %s", strings.Join(missing, ", "))
	}
	if len(gone) > 0 {
		t.Errorf("operations in the client's table that the server no longer has: %s", strings.Join(gone, ", "))
	}
	if len(broken) > 0 {
		t.Errorf("table entries naming no usable method:\n%s", strings.Join(broken, "\n"))
	}
}

// publicTypes are the types whose methods perform operations: the client, each
// of its services, and what they hand out (viewer sessions, link viewers).
func publicTypes() map[string]reflect.Type {
	types := map[string]reflect.Type{}
	client := reflect.TypeOf(&agentshare.Client{})
	types["Client"] = client
	for i := 0; i < client.Elem().NumField(); i++ {
		f := client.Elem().Field(i)
		if f.IsExported() && f.Type.Kind() == reflect.Pointer {
			types[f.Type.Elem().Name()] = f.Type
		}
	}
	types["ViewerSession"] = reflect.TypeOf(&agentshare.ViewerSession{})
	types["LinkViewer"] = reflect.TypeOf(&agentshare.LinkViewer{})
	return types
}

var contextType = reflect.TypeOf((*interface{ Done() <-chan struct{} })(nil)).Elem()

func checkMethod(types map[string]reflect.Type, name string) string {
	typeName, methodName, ok := strings.Cut(name, ".")
	if !ok {
		return "not Type.Method"
	}
	typ, ok := types[typeName]
	if !ok {
		return "no such type reachable from Client"
	}
	m, ok := typ.MethodByName(methodName)
	if !ok {
		return "no such method"
	}
	takesContext := m.Type.NumIn() > 1 && m.Type.In(1).Implements(contextType)
	if !takesContext {
		if _, ok := typ.MethodByName(methodName + "Context"); !ok {
			return "no " + methodName + "Context form"
		}
	}
	return ""
}
