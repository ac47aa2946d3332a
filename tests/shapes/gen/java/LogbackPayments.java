// logback with logstash-logback-encoder's LogstashEncoder (includeCallerData on), via SLF4J.
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

public class LogbackPayments {
    static class PaymentTimeoutException extends RuntimeException {
        PaymentTimeoutException(String message) { super(message); }
    }

    static void processPayment(int id) {
        throw new PaymentTimeoutException("gateway did not answer payment " + id + " within 3000 ms");
    }

    public static void main(String[] args) {
        Logger log = LoggerFactory.getLogger("payments");
        log.info("service started");
        log.info("payment 4700 accepted");
        for (int id = 4711; id < 4723; id++) {
            try {
                processPayment(id);
            } catch (PaymentTimeoutException e) {
                log.error("payment {} failed", id, e);
            }
        }
    }
}
