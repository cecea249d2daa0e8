// Command go-mod serves HTTP on $PORT (default 8080): every answer carries a fresh
// request id from the vendored github.com/google/uuid module.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"runtime"

	"github.com/google/uuid"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "Hello from kiln go (%s), request %s\n", runtime.Version(), uuid.New())
	})
	log.Printf("listening on :%s", port)
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
