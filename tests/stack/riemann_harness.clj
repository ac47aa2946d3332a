; Loads stack/riemann/riemann.config with Riemann's services and stream DSL stubbed out, then
; exercises the config's own functions and outputs against servers that the Python test runs on
; 127.0.0.1 (ALERT_HOST/ALERT_PORT, ES_URL). Prints one line: RESULTS <json>.
(ns riemann.config)

(defn tcp-server [& _] nil)
(defn kafka-consumer [& _] nil)
(defn periodically-expire [& _] nil)
(defn async-queue! [_name _opts f] f)   ; synchronous here
(defmacro streams [& _] nil)             ; the stream DSL is Riemann's: not exercised here

(load-file (System/getenv "RIEMANN_CONFIG"))

(def t 1764000000)                       ; 2025-11-24T16:00:00Z

(def results
  {:error (mapv error-event? [{:levelname "ERROR"} {:level "error"} {:levelname "CRITICAL"}
                              {:levelname "INFO"} {}])
   :index (index-name {:time t})
   :alert (json/parse-string
            (alert-line {:pathname "/app/a.py" :count 26 :message "boom" :time t :lineno 12
                         :service "payments"}))
   :bulk (bulk-body [{:time t :pathname "/app/a.py" :message "x" :extra {:k 1} :nothing nil}
                     {:time t (keyword "@timestamp") "2025-11-24T16:00:00.123Z" :message "y"}])
   :safe (do ((safe (fn [_] (throw (RuntimeException. "boom")))) {}) "survived")})

(send-alert! {:pathname "/app/a.py" :count 26 :message "boom" :time t})
(post-bulk! [{:time t :pathname "/app/a.py" :message "x"}])
; Outputs must not throw when nobody listens.
(def down-results
  (binding [*out* *out*]
    (with-redefs [alert-port 1 es-url "http://127.0.0.1:1"]
      (send-alert! {:pathname "/x" :count 1})
      (post-bulk! [{:time t :message "lost"}])
      "no exception")))

(println "RESULTS" (json/generate-string (assoc results :down down-results)))
(shutdown-agents)
