// Log4j 2 JsonLayout (compact, one event per line, locationInfo on), configured in code.
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

public class Log4j2Payments {
    static class PaymentTimeoutException extends RuntimeException {
        PaymentTimeoutException(String message) { super(message); }
    }

    static void processPayment(int id) {
        throw new PaymentTimeoutException("gateway did not answer payment " + id + " within 3000 ms");
    }

    public static void main(String[] args) {
        Logger log = LogManager.getLogger("payments");
        log.info("service started");
        log.info("payment 4700 accepted");
        for (int id = 4711; id < 4723; id++) {
            try {
                processPayment(id);
            } catch (PaymentTimeoutException e) {
                log.error("payment " + id + " failed", e);
            }
        }
    }
}
