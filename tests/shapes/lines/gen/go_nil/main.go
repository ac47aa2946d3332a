// A Go service's plain-text output: a nil pointer dereference in a goroutine.
package main

import (
	"fmt"
	"sync"
)

type gateway struct{ timeoutMs int }

func timeout(g *gateway) int {
	return g.timeoutMs
}

func main() {
	fmt.Println("service started")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		fmt.Println(timeout(nil))
	}()
	wg.Wait()
}
