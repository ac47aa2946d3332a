// A Go service's plain-text output: log lines and a panic with an error value.
package main

import (
	"fmt"
	"log"
	"os"
)

func charge(payment int) error {
	return fmt.Errorf("gateway did not answer payment %d within 3000 ms", payment)
}

func settle(payment int) {
	if err := charge(payment); err != nil {
		panic(err)
	}
}

func main() {
	log.SetOutput(os.Stdout)
	log.Println("service started")
	log.Printf("ERROR payment %d failed", 4711)
	settle(4712)
}
