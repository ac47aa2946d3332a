// Go's log/slog: the JSON handler with AddSource (the call site); the error as a string.
package main

import (
	"fmt"
	"log/slog"
	"os"
)

func processPayment(id int) error {
	return fmt.Errorf("gateway did not answer payment %d within 3000 ms", id)
}

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{AddSource: true}))
	log.Info("service started", "port", 8080)
	log.Info("payment 4700 accepted")
	for id := 4711; id < 4723; id++ {
		if err := processPayment(id); err != nil {
			log.Error(fmt.Sprintf("payment %d failed", id), "err", err)
		}
	}
}
