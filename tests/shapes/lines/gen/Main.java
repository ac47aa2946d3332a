// A Java service's plain-text output through logback's default console pattern: log lines, an
// exception logged with its cause and a suppressed exception, and an uncaught exception that
// ends the main thread.
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

public class Main {
    static class PaymentTimeoutException extends RuntimeException {
        PaymentTimeoutException(String message, Throwable cause) { super(message, cause); }
    }

    static void call(int payment) {
        throw new IllegalStateException("socket closed");
    }

    static void charge(int payment) {
        try {
            call(payment);
        } catch (IllegalStateException e) {
            PaymentTimeoutException timeout = new PaymentTimeoutException(
                "gateway did not answer payment " + payment + " within 3000 ms", e);
            timeout.addSuppressed(new java.io.IOException("close failed"));
            throw timeout;
        }
    }

    static final Logger log = LoggerFactory.getLogger("payments");

    public static void main(String[] args) {
        log.info("service started");
        for (int payment : new int[] {4711, 4712}) {
            try {
                charge(payment);
            } catch (PaymentTimeoutException e) {
                log.error("payment {} failed", payment, e);
            }
        }
        System.out.flush();
        Object[] amounts = new Object[0];
        System.out.println(amounts[3]);
    }
}
