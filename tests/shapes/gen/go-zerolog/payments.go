// zerolog: .Caller() for the call site, .Stack() with pkg/errors for a structured stack.
package main

import (
	"fmt"
	"os"

	"github.com/pkg/errors"
	"github.com/rs/zerolog"
	"github.com/rs/zerolog/pkgerrors"
)

func processPayment(id int) error {
	return errors.New(fmt.Sprintf("gateway did not answer payment %d within 3000 ms", id))
}

func main() {
	zerolog.ErrorStackMarshaler = pkgerrors.MarshalStack
	log := zerolog.New(os.Stdout).With().Timestamp().Caller().Logger()
	log.Info().Int("port", 8080).Msg("service started")
	log.Info().Msg("payment 4700 accepted")
	for id := 4711; id < 4723; id++ {
		if err := processPayment(id); err != nil {
			log.Error().Stack().Err(err).Msgf("payment %d failed", id)
		}
	}
}
