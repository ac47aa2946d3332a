// zap: the production config (JSON, caller on, a stacktrace on every ERROR), to stdout.
package main

import (
	"fmt"

	"go.uber.org/zap"
)

func processPayment(id int) error {
	return fmt.Errorf("gateway did not answer payment %d within 3000 ms", id)
}

func main() {
	config := zap.NewProductionConfig()
	config.OutputPaths = []string{"stdout"}
	log, _ := config.Build()
	defer log.Sync()
	log.Info("service started", zap.Int("port", 8080))
	log.Info("payment 4700 accepted")
	for id := 4711; id < 4723; id++ {
		if err := processPayment(id); err != nil {
			log.Error(fmt.Sprintf("payment %d failed", id), zap.Error(err))
		}
	}
}
