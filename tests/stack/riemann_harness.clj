; Loads stack/riemann/riemann.config into Riemann's config namespace, with the Riemann 0.3.12
; functions it uses mirrored from Riemann's own source (riemann_stubs.clj), then feeds it Kafka
; message values the way Riemann's consumer does and prints one line: RESULTS <json>. Outputs
; reach servers the Python test runs on 127.0.0.1 (ALERT_HOST/ALERT_PORT, ES_URL) only for the
; queues in `delivered`; elsewhere the queues record what they are given.
(ns riemann.config
  (:require [cheshire.core :as json]
            [clojure.string :as str]
            [clojure.tools.logging :as log]))

(load-file (str (.getParent (java.io.File. ^String *file*)) "/riemann_stubs.clj"))

; ---------------------------------------------------------------------------------- scenarios

(def config-path (System/getenv "RIEMANN_CONFIG"))
(def t0 1764000000.0)

(declare rule-state initial-rule-state kind-state kind-book kinds-config)

(defn fresh!
  "The rule's state as the config made it, batches flushed, queues empty, the clock at `now`."
  [now]
  (reset! clock now)
  (reset! rule-state initial-rule-state)
  (reset! kind-state (kind-book kinds-config))
  (tick!)
  (reset! queued {}))

(defn iso [seconds] (str (java.time.Instant/ofEpochMilli (Math/round (* 1000.0 seconds)))))

(defn log-json
  "A Kafka message value as logtray's handler writes it (@timestamp, no numeric time)."
  [at & {:as fields}]
  (json/generate-string (merge {"@timestamp" (iso at) "level" "error" "message" "boom"
                                "pathname" "/app/a.py" "lineno" 12}
                               fields)))

(defn alerts
  "The spike rule's alerts and heartbeat answers queued (what the error kinds' book told: below)."
  []
  (vec (remove :told (get @queued :alerts []))))
(defn kind-alerts [] (filterv :told (get @queued :alerts [])))
(defn alert-summary [] (mapv #(select-keys % [:pathname :count :rule-time]) (alerts)))

(load-file config-path)
(def initial-rule-state @rule-state)
(reset! consumer-deserializer (value-deserializer @consumer-opts))

; The config's own helpers, and its outputs over real sockets.
(def helpers
  {:error (mapv error-event? [{:levelname "ERROR"} {:level "error"} {:levelname "CRITICAL"}
                              {:levelname "INFO"} {}])
   :index (index-name {:time (long t0)})
   :alert (json/parse-string
            (alert-line {:pathname "/app/a.py" :count 26 :message "boom" :time (long t0) :lineno 12
                         :service "payments"}))
   :bulk (bulk-body (mapv #(event (record-of (.getBytes (json/generate-string %) "UTF-8")))
                          [{:time (long t0) :pathname "/app/a.py" :message "x" :extra {:k 1}
                            :nothing nil :level 50 :lineno 3}
                           {(keyword "@timestamp") "2025-11-24T16:00:00.123Z" :message "y"}]))
   :safe (do ((safe (fn [_] (throw (RuntimeException. "boom")))) {}) "survived")
   :consumer (dissoc @consumer-opts :value.deserializer)
   :own-deserializer (some? (:value.deserializer @consumer-opts))
   :times (mapv #(time-of {(keyword "@timestamp") %})
                ["2025-11-24T16:00:00.250Z" "2025-11-24T17:00:00.250+01:00"
                 "2025-11-24T16:00:00.250" "yesterday" "+999999999-12-31T23:59:59Z"])
   ; The cached fast path reads the usual shape exactly as java.time does.
   :fast (mapv (fn [s] [(parse-utc s) (/ (.toEpochMilli (java.time.Instant/parse s)) 1000.0)])
               ["2025-11-24T16:00:00Z" "2025-11-24T16:00:00.1Z" "2025-11-24T16:00:00.123456789Z"
                "2025-11-24T16:00:01.999Z" "1999-01-01T00:00:00.5Z"])
   :not-times (mapv parse-timestamp ["2025-13-24T16:00:00Z" "24/11/2025 16:00"
                                     "2025-11-24T16:00:00.1234567890Z" 1764000000 nil])
   :bounded {:ms (bounded-time {:time (long (* 1000 t0))} t0)
             :future (bounded-time {:logtray {:time (+ t0 86400)}} t0)
             :ahead-4s (bounded-time {:time (+ t0 4)} t0)
             :old (rule-time {:time (- t0 7200)} t0)
             :recent (rule-time {:time (- t0 1800)} t0)}
   :clip (mapv #(count (clip % 300)) [(apply str (repeat 10000 "x"))
                                      (str (apply str (repeat 299 "x")) "\uD83D\uDE00")])
   :topic-record (topic-record {:pathname "/app/a.py" :count 26 :message "boom" :lineno 12
                                :rule-time (+ t0 2.5) :service "payments"})
   :line-id (get (json/parse-string (alert-line {:pathname "/app/a.py" :rule-time (+ t0 2.5)})) "id")
   :tb (:traceback (normalize {:exception "Traceback (most recent call last):\n  File \"a.py\"\nValueError: bad\n\n"}))})

(send-alert! {:pathname "/app/a.py" :count 26 :message "boom" :time (long t0)})
(post-bulk! [{:time (long t0) :pathname "/app/a.py" :message "x"}])
; Outputs must not throw when nobody listens.
(def down-results
  (with-redefs [alert-port 1 es-url "http://127.0.0.1:1"]
    (send-alert! {:pathname "/x" :count 1})
    (post-bulk! [{:time (long t0) :message "lost"}])
    "no exception"))

(defn crossing
  "25 errors within the window raise nothing; the 26th raises one alert."
  []
  (fresh! t0)
  (consume! (for [i (range 25)] (log-json (+ t0 (* 0.1 i)))))
  (let [before (count (alerts))]
    (consume! [(log-json (+ t0 2.5))])
    {:before before :after (alert-summary)}))

(defn gate
  "Two spikes, the clock moving with the events (one error every 0.25 s): alerts at most one per
  THROTTLE_S from the last one sent, whatever window a fixed-window throttle would be in."
  []
  (fresh! t0)
  (doseq [at (concat (range t0 (+ t0 8) 0.25) (range (+ t0 28) (+ t0 100) 0.25))]
    (reset! clock at)
    (consume! [(log-json at)]))
  (mapv #(- (:rule-time %) t0) (alerts)))

(defn backlog
  "Read at once (Riemann's clock stands still): windowed on the events' own time."
  []
  (letfn [(run [values] (fresh! t0) (consume! values) (alert-summary))]
    {:timestamp (run (for [m (range 30 0 -1)] (log-json (- t0 (* 60 m)))))
     :numeric (run (for [m (range 30 0 -1)]
                     (json/generate-string {"time" (- t0 (* 60 m)) "level" "error"
                                            "pathname" "/app/a.py" "message" "boom"})))
     :spike-30min-ago (run (for [i (range 26)] (log-json (+ (- t0 1800) (* 0.1 i)))))
     :spike-2h-ago (run (for [i (range 26)] (log-json (+ (- t0 7200) (* 0.1 i)))))
     :arrival-time (run (for [m (range 30 0 -1)]    ; what windowing on arrival would see
                          (json/generate-string {"level" "error" "pathname" "/app/a.py"})))}))

(defn far-from-now
  "One error with a time far from now first, then a spike on time: the spike still alerts."
  []
  (letfn [(run [first-value]
            (fresh! t0)
            (consume! [first-value])
            (consume! (for [i (range 26)] (log-json (+ t0 1 (* 0.1 i)))))
            (mapv :count (alerts)))]
    {:milliseconds (run (json/generate-string {"time" (long (* 1000 t0)) "level" "error"
                                               "pathname" "/app/a.py"}))
     :future (run (log-json (+ t0 (* 365 86400))))
     :far-past (run (log-json 0.0))}))

(def stopping-values
  "What stops Riemann 0.3.12's own decoding (riemann#1016, #991)."
  ["\"a bare string\"" "42" "true" "[1,2]" "{\"time\":\"2025-11-24T16:00:00Z\"}" "{\"time\":{}}"
   "{\"time\":100000000000000000000}" "{\"time\":true}" "{\"time\":[1]}" "{\"time\":1.7e9}"])

(defn indexing
  "What reaches the Elasticsearch queue, and what the consumer makes of each message shape."
  []
  (fresh! t0)
  (reset! unreadable-count 0)
  (let [shapes ["not json {" "[]" "null"
                "{\"message\":\"kept\",\"level\":\"info\"}"
                "[{\"message\":\"merged\"},{\"level\":\"info\"}]"
                "{\"message\":\"own\",\"tags\":[\"riemann\"]}"
                "{\"message\":\"slog\",\"time\":\"2025-11-24T16:00:00.5Z\"}"]
        results (mapv #(consume! [%]) shapes)]
    (tick!)
    {:consumed results
     :indexed (mapv #(select-keys % [:message :level :time_raw])
                    (apply concat (get @queued :elasticsearch)))
     :unreadable @unreadable-count
     :logged (mapv second (logged-about "not a JSON object"))
     ; Riemann's own decoding (no :value.deserializer) against the config's, value by value.
     :riemann-own (into {} (for [v stopping-values]
                             [v (consume-with! (value-deserializer {}) [v])]))
     :config (into {} (for [v stopping-values] [v (consume! [v])]))}))

(defn junk-value
  "A random JSON value (seeded): every type, huge and far-off numbers, nested to `depth`."
  [^java.util.Random rnd depth]
  (let [pick (fn [xs] (nth xs (.nextInt rnd (count xs))))]
    (case (int (.nextInt rnd (if (pos? depth) 8 5)))
      0 nil
      1 (.nextBoolean rnd)
      2 (pick ["" "x" "2025-11-24T16:00:00Z" "error" "50" "null" "{\"time\":\"x\"}" "\uD83D\uDE00"
               (apply str (repeat 3000 "y"))])
      3 (pick [0 -1 50 1764000000 1764000000123 9223372036854775807 -9223372036854775808
               (biginteger 10) (.pow (biginteger 10) 20) (.negate (.pow (biginteger 10) 30))])
      4 (pick [1.5 -0.0 1.764e9 1e300 -1e300 4.9e-324])
      5 (vec (repeatedly (.nextInt rnd 4) #(junk-value rnd (dec depth))))
      (into {} (repeatedly (.nextInt rnd 5)
                           (fn [] [(pick ["time" "level" "@timestamp" "pathname" "message" "msg" "log"
                                          "metric" "tags" "ttl" "host" "service" "state" "created"
                                          "description" "lineno" "err" "error" "caller" "src"])
                                   (junk-value rnd (dec depth))]))))))

(defn never-stops
  "Every kind of message value through the consumer path with the config's deserializer, each
  followed by one real error record of another file: consumption never stops, and every real
  record is counted (26 of them, one alert). The same values through Riemann's own decoding
  stop it (counted, to show they are the ones that matter)."
  []
  (fresh! t0)
  (reset! rescued [])
  (reset! unreadable-count 0)
  (let [rnd (java.util.Random. 23)
        fixed ["" " " "not json {" "{\"a\":" "[" "]" "nul" "NaN" "Infinity" "\u0000"
               (apply str (repeat 100000 "[")) (str (apply str (repeat 5000 "[")) (apply str (repeat 5000 "]")))
               (str "{\"message\":\"" (apply str (repeat (* 1100 1024) "z")) "\"}")]
        generated (for [i (range 4000)]
                    (json/generate-string
                      (if (even? i)
                        (junk-value rnd 4)
                        (assoc (let [v (junk-value rnd 3)] (if (map? v) v {}))
                               "time" (junk-value rnd 2)))))
        junk (vec (concat fixed generated))
        real (fn [i] (log-json (+ t0 (* 0.03 i)) "pathname" "/app/real.py"))
        riemann-own (frequencies (map #(consume-with! (value-deserializer {}) [%]) junk))
        _ (fresh! t0)
        statuses (frequencies
                   (for [[i chunk] (map-indexed vector (partition-all 160 junk))]
                     (consume! (concat chunk [(real i)]))))]
    (tick!)
    {:values (count junk)
     :statuses statuses
     :rescued (vec (take 3 @rescued))
     :unreadable @unreadable-count
     :alerts (mapv #(select-keys % [:pathname :count]) (filter #(= "/app/real.py" (:pathname %)) (alerts)))
     :bulk-lines (reduce + (map #(count (str/split-lines (bulk-body %))) (get @queued :elasticsearch)))
     :riemann-own riemann-own
     ; Riemann's Jackson (2.10) has no nesting limit: deep JSON overflows the consumer thread's
     ; stack there (this classpath's Jackson refuses past depth 1000 first). A thread with a
     ; small stack shows the config's decoding takes a StackOverflowError too.
     :stack-overflow (let [out (promise)
                           why (atom [])
                           deep (.getBytes (str (apply str (repeat 900 "[")) (apply str (repeat 900 "]"))))]
                       (with-redefs [count-unreadable! #(swap! why conj %)]
                         (doto (Thread. nil #(deliver out (try [:returned (record-of deep)]
                                                                (catch Throwable e [:threw (str e)])))
                                        "small-stack" 16384)
                           (.start))
                         (conj (deref out 30000 [:timeout]) @why)))}))

(defn evidence-over-the-wire
  "A spike whose alert goes through the whole pipeline to the listener: 6 distinct messages
  (the most frequent 10,000 characters long), several lines, a traceback on the last record."
  []
  (fresh! (+ t0 5))
  (reset! delivered #{:alerts :alerts-topic})   ; the line waits for the topic copy's ack
  (let [big (apply str (repeat 10000 "x"))
        plan (concat (repeat 10 [big 12]) (repeat 6 ["m2" 40]) (repeat 4 ["m3" 7])
                     (repeat 3 ["m4" 12]) (repeat 2 ["m5" 40]) [["m6" 99]])
        values (map-indexed (fn [i [m line]]
                              (log-json (+ t0 (* 0.2 i)) "message" m "lineno" line
                                        "exception" (when (= i 25)
                                                      (str "Traceback (most recent call last):\n"
                                                           "  File \"/app/a.py\", line 99\n"
                                                           "ValueError: bad amount\n"))))
                            plan)]
    (try
      (consume! values)
      (count (alerts))
      (finally (reset! delivered #{})))))

(defn bounds
  "State stays bounded: a long spike, many pathnames, idle pathnames dropped."
  []
  (fresh! t0)
  (doseq [at (range t0 (+ t0 30) 0.02)]
    (reset! clock at)
    (consume! [(log-json at "message" (str "m" (mod (Math/round (* at 50)) 97)))]))
  (let [ps (get-in @rule-state [:paths "/app/a.py"])
        spike {:steps (count (:steps ps)) :sample (count (:sample ps)) :n (:n ps)}]
    (fresh! t0)
    (consume! (for [i (range 1500)] (log-json t0 "pathname" (str "/app/p" i ".py"))))
    (let [many (count (:paths @rule-state))]
      (reset! clock (+ t0 idle-s 11))
      (consume! [(log-json @clock "pathname" "/app/late.py")])
      {:spike spike :many many :after-idle (count (:paths @rule-state))})))

(defn fuzz
  "Strangers' fields of every type through the whole config (seeded): nothing throws, and every
  alert line and _bulk body can be written, with the evidence within its bounds."
  []
  (fresh! t0)
  (reset! rescued [])
  (let [rnd (java.util.Random. 11)
        pick (fn [xs] (nth xs (.nextInt rnd (count xs))))
        big (apply str (repeat 5000 "ab\n"))
        field-values {"@timestamp" [nil 42 {} [] "" "garbage" (iso t0) (iso (+ t0 1e9)) (iso 0.0)
                                    "2025-11-24T16:00:00.5+05:30" "9999-12-31T23:59:59.999Z"]
                      "time" [nil 0 -1 1.5 t0 (* 1000 t0) 1e300 -1e300 (long t0)]
                      "level" [nil "error" "ERROR" "critical" "fatal" 40 {} ["error"] true]
                      "levelname" [nil "ERROR" "info"]
                      "pathname" [nil "/app/a.py" "/app/b.py" "" "   " 7 {} ["/x"]
                                  (apply str (repeat 2000 "p"))]
                      "message" [nil "boom" "" big 12 {"a" [1 2]} ["x" "y"] "\uD83D\uDE00"]
                      "msg" [nil "fallback"]
                      "lineno" [nil 1 -5 "12" 99999999999999 1.5 [] 12]
                      "exception" [nil "" "one line" big 5 {"tb" "x"}
                                   "Traceback (most recent call last):\nKeyError: 'k'"
                                   ; Frames of every size: the alert's frame stays bounded.
                                   (str "Traceback (most recent call last):\n  File \""
                                        (apply str (repeat 900 "f")) "\", line 99999999, in "
                                        (apply str (repeat 400 "g")) "\nKeyError: 'k'")
                                   "E: x\n    at \u0007fn\u202e (/app/a.js\t:12:3)"
                                   "E: y\n  File \"\", line 1, in f\n  at (:7)"]
                      "exc_info" [nil true "E: x\n"]
                      "tags" [nil "riemann" ["riemann"] ["app"] 5]}
        values (for [i (range 3000)]
                 (json/generate-string
                   (into {} (for [[k vs] field-values
                                  :let [v (pick vs)]
                                  :when (some? v)]
                              [k v]))))
        statuses (doall (for [vs (partition-all 100 values)]
                          (do (swap! clock + 0.5) (consume! vs))))]
    (tick!)
    (let [lines (map #(json/parse-string (alert-line %)) (alerts))
          evs (keep #(get % "evidence") lines)]
      {:statuses (frequencies statuses)
       :rescued (vec (take 3 @rescued))
       :alerts (count lines)
       :bulk-lines (reduce + (map #(count (str/split-lines (bulk-body %)))
                                  (get @queued :elasticsearch)))
       :max-messages (reduce max 0 (map #(count (get % "messages")) evs))
       :max-message-chars (reduce max 0 (for [e evs m (get e "messages")]
                                          (count (get m "message"))))
       :max-lines (reduce max 0 (map #(count (get % "lines")) evs))
       :lines-ints (every? #(every? integer? (get % "lines")) evs)
       :max-traceback-chars (reduce max 0 (map #(count (get % "traceback" "")) evs))
       :max-error-type-chars (reduce max 0 (map #(count (get % "error_type" "")) evs))
       :frames (vec (distinct (keep #(get % "frame") evs)))
       ; The frame each stranger's stack gives an alert (read directly: few alerts are made).
       :stack-frames (mapv alert-frame (filter string? (field-values "exception")))
       :paths (count (:paths @rule-state))})))

(defn refused-writes
  "Elasticsearch refusing writes: a stand-in answering every _bulk with the flood-stage
  read-only block (ES_BLOCKED_URL). Told to the listener once per problem per pipeline-every-s;
  other answers classified by bulk-problem."
  []
  (reset! pipeline-sent {})
  (let [blocked (System/getenv "ES_BLOCKED_URL")
        item (fn [etype status reason]
               (json/generate-string {:index {:_index "program-logs-2025.11.24" :status status
                                              :error {:type etype :reason reason}}}))]
    (with-redefs [es-url blocked]
      (doseq [i (range 5)]
        (reset! clock (+ t0 (* 10 i)))
        (post-bulk! [{:time (long t0) :message (str "m" i) :pathname "/app/a.py"}
                     {:time (long t0) :message "n"}]))
      (reset! clock (+ t0 pipeline-every-s 1))
      (post-bulk! [{:time (long t0) :message "later"}]))
    (reset! clock t0)
    {:classified
     (into {} (for [[k status body]
                    [["ok" 200 "{\"took\":1,\"errors\":false,\"items\":[]}"]
                     ["overloaded" 429 (json/generate-string
                                         {:error {:type "es_rejected_execution_exception"
                                                  :reason "rejected execution of bulk"}
                                          :status 429})]
                     ["mapping" 200 (str "{\"errors\":true,\"items\":["
                                         (item "document_parsing_exception" 400
                                               "failed to parse field [lineno]") "]}")]
                     ["closed" 200 (str "{\"errors\":true,\"items\":["
                                        (item "index_closed_exception" 400 "closed") "]}")]
                     ["junk" 500 "<html>oops"]
                     ["huge" 200 (str "{\"errors\":true,\"items\":["
                                      (str/join "," (repeat 5000 (item "cluster_block_exception"
                                                                       403 (apply str (repeat 2000 "r")))))
                                      "]}")]]]
                [k (bulk-problem status body 2)]))}))

(defn rule-cases
  "The shared rule-case table (tests/rule_cases.json, expanded by tests/rule_cases.py into the
  file RULE_CASES names): each case's deliveries consumed with Riemann's clock at their arrival,
  and the alerts the rule sent, with the arrival clock when each fired."
  []
  (when-let [path (System/getenv "RULE_CASES")]
    (into {}
          (for [{:keys [name deliveries]} (json/parse-string (slurp path) true)]
            (do
              (fresh! (double (:at (first deliveries))))
              [name (reduce (fn [seen {:keys [at values]}]
                              (reset! clock (double at))
                              (let [before (count (alerts))]
                                (consume! values)
                                (into seen (map (fn [a] {:pathname (:pathname a) :count (:count a)
                                                         :time (:rule-time a) :at (double at)})
                                                (drop before (alerts))))))
                            [] deliveries)])))))

(defn kind-cases
  "The error kinds' table (tests/kind_cases.json, handed over by tests/kind_cases.py's
  for_harness in the file KIND_CASES names): each named record's kind as the consumer path reads
  it, and per case what the book told (through the config's streams and its every-second tick,
  with Riemann's clock at each step), in the table's terms; and each told alert's line."
  []
  (when-let [path (not-empty (System/getenv "KIND_CASES"))]
    (let [{:keys [now config records cases]} (json/parse-string (slurp path :encoding "UTF-8") true)
          read (fn [name] (:logtray (record-of (.getBytes ^String (get records (keyword name))
                                                          "UTF-8"))))
          kind-of (fn [name] (:kind (read name)))
          tick (second (first @scheduled))
          lines (atom [])]
      {:fingerprints (into {} (for [[name _] records]
                                [name (some-> (kind-of (clojure.core/name name))
                                              (select-keys [:id :service :type :template :file
                                                            :line]))]))
       :scheduled (mapv first @scheduled)
       :cases
       (into {}
             (for [{:keys [name known steps] :as case} cases]
               (do
                 (fresh! now)
                 (reset! kind-state (kind-book (merge kinds-config config (:config case))))
                 (swap! kind-state book-load
                        (for [{:keys [record seen state]} known]
                          (let [at (+ now (or seen -60))]
                            {:kind (kind-of record) :first at :last at :count 1
                             :example (or (:message (read record)) "")
                             :state (or state "open")})))
                 [name
                  (reduce
                    (fn [told {:keys [at] :as step}]
                      (reset! clock (+ now at))
                      (let [before (count (kind-alerts))]
                        (tick)
                        (doseq [[verb state] [[:resolve "resolved"] [:mute "muted"]
                                              [:reopen "open"]]
                                r (get step verb)]
                          (let [kind (kind-of r)]
                            (swap! kind-state book-set-state (:service kind) (:id kind) state)))
                        (consume! (map #(get records (keyword %)) (:records step)))
                        (into told
                              (for [a (drop before (kind-alerts))]
                                (do (swap! lines conj (alert-line a))
                                    (cond-> {:at at :told (:told a) :service (:service a)
                                             :count (:count a)}
                                      (:known a) (assoc :kind (:id (:kind (:known a))))))))))
                    [] steps)])))
       :lines @lines})))

(declare wait-for)

(defn kinds-kept
  "The known kinds across restarts, over the stubbed kinds topic holding the messages logtray
  wrote (KINDS_TOPIC_MESSAGES: [key value] pairs, and the records to send): records that
  arrive while the topic is read are held, then told against what it holds; what changed is
  written on the tick; a restart reads it back; a state written by `logtray kinds resolve`
  while Riemann runs is followed; a broker that cannot be read starts an empty book."
  []
  (when-let [path (not-empty (System/getenv "KINDS_TOPIC_MESSAGES"))]
    (let [{:keys [messages records resolve ignored]}
          (json/parse-string (slurp path :encoding "UTF-8") true)
          value #(get records (keyword %))
          three (map value ["node-pino" "python-logtray" "python-ecs-logging"])
          tick (second (first @scheduled))
          start! #(reset! kind-state (assoc (kind-book kinds-config) :loading true :held []
                                            :dropped 0))
          told-since (fn [before]
                       (mapv #(cond-> {:told (:told %) :service (:service %)}
                                (:known %) (assoc :kind (:id (:kind (:known %)))))
                             (drop before (kind-alerts))))
          state-of (fn [service id] (get-in @kind-state [:kinds [service id] :state]))]
      (fresh! t0)
      (reset! kinds-log (mapv (fn [[k v]] {:topic kinds-topic :key k :value v}) messages))
      (reset! kinds-broker-up true)
      (start!)
      (consume! three)
      (let [held (count (:held @kind-state))
            _ (read-kinds-topic! kind-state alerts-out false)
            first-start (told-since 0)
            loaded (count (:kinds @kind-state))
            written-from (count @kinds-log)
            _ (reset! delivered #{:kinds-topic})
            _ (tick)
            written (mapv (juxt :key :value) (drop written-from @kinds-log))
            _ (start!)
            _ (read-kinds-topic! kind-state alerts-out false)
            before (count (kind-alerts))
            _ (consume! three)
            restarted (told-since before)
            ;; Following: logtray kinds resolve writes while Riemann runs (once the reader is
            ;; loaded, it has read to the end and follows).
            _ (start!)
            follower (future (read-kinds-topic! kind-state alerts-out true))
            _ (wait-for "the reader following the topic" 30 #(not (:loading @kind-state)))
            kind-named (fn [name] (:kind (:logtray (record-of (.getBytes ^String (value name)
                                                                           "UTF-8")))))
            pino (kind-named "node-pino")
            logtray (kind-named "python-logtray")
            _ (swap! kinds-log conj {:topic kinds-topic :key (first ignored)
                                     :value (second ignored)})
            _ (swap! kinds-log conj {:topic kinds-topic :key (first resolve)
                                     :value (second resolve)})
            _ (wait-for "the resolve followed" 30
                        #(= "resolved" (state-of (:service pino) (:id pino))))
            _ (swap! kinds-reader-generation inc)
            stopped (deref follower 30000 :running)
            not-followed (state-of (:service logtray) (:id logtray))
            before (count (kind-alerts))
            _ (consume! [(value "node-pino")])
            followed (told-since before)
            ;; The broker cannot be read: the held records go into an empty book.
            logged-before (count (logged-about "cannot read the known error kinds"))
            _ (reset! kinds-broker-up false)
            _ (start!)
            _ (consume! three)
            _ (read-kinds-topic! kind-state alerts-out false)
            down {:loading (boolean (:loading @kind-state)) :kinds (count (:kinds @kind-state))
                  :learning (vec (keys (:learning @kind-state)))
                  :logged (- (count (logged-about "cannot read the known error kinds"))
                             logged-before)}]
        (reset! delivered #{})
        {:held held :first-start first-start :loaded loaded :written written
         :restarted restarted :stopped (nil? stopped) :followed followed
         :not-followed not-followed :down down}))))

(defn kinds-strangers
  "3,000 seeded kinds-topic values (a kept kind's fields dropped or given junk of every JSON
  type, or junk alone) through the config's reading of the topic: each value and what
  json->known made of it (as the topic carries it, or nil), how many kinds-latest keeps under
  two keys, how many are the command's; and a book following them all."
  []
  (let [rnd (java.util.Random. 13)
        good {:service "payments" :id "0a3a1edba140" :type "E" :template "t <n>" :file "f.py"
              :line 3 :path "/a/f.py" :first_seen t0 :last_seen t0 :count 2 :example "e"
              :state "resolved" :set_by "command"}
        values (vec (for [_ (range 3000)]
                      (json/generate-string
                        (if (zero? (.nextInt rnd 4))
                          (junk-value rnd 3)
                          (reduce (fn [m k]
                                    (case (int (.nextInt rnd 10))
                                      0 (dissoc m k)
                                      1 (assoc m k (junk-value rnd 2))
                                      m))
                                  good (keys good))))))
        read (mapv #(some-> (json->known %) known->json) values)
        book (book-load (kind-book kinds-config)
                        [{:kind (record-kind {:level "error" :error-type "E" :message "t 1"
                                              :message-template "t <n>"
                                              :file "f.py" :service "payments"})
                          :first t0 :last t0 :count 1 :example "" :state "open"}])]
    {:values values
     :read read
     :latest (mapv known->json
                   (kinds-latest (map-indexed (fn [i v] [(if (even? i)
                                                           (kind-message-key
                                                             "payments" (kind-id "E" "t <n>" "f.py"))
                                                           "k")
                                                         v])
                                              values)))
     :commands (count (filter set-by-command? values))
     :followed (get-in (reduce book-follow book (keep json->known (filter set-by-command? values)))
                       [:kinds ["payments" (kind-id "E" "t <n>" "f.py")] :state])}))

(defn kinds-stop
  "Riemann stopped (SIGTERM: the JVM's shutdown hooks) right after a new kind, before the
  tick wrote it: the config's hook writes it, so a restart does not tell it as New again. The
  queue still writing an older state of the same kind (the broker slow): the hook's write
  comes after it. The broker down: the hook gives up within its bound."
  []
  (when-let [path (not-empty (System/getenv "KINDS_TOPIC_MESSAGES"))]
    (let [{:keys [records]} (json/parse-string (slurp path :encoding "UTF-8") true)
          value #(get records (keyword %))
          kind-named (fn [name] (:kind (:logtray (record-of (.getBytes ^String (value name)
                                                                           "UTF-8")))))
          known (fn [name] {:kind (kind-named name) :first (- t0 60) :last (- t0 60) :count 1
                            :example "" :state "open"})
          ;; A running book that knows python-logtray's kind: payments is not learning.
          running! #(reset! kind-state (book-load (kind-book kinds-config)
                                                  [(known "python-logtray")]))
          written (fn [from] (mapv (fn [{:keys [key value]}]
                                     (let [v (json/parse-string value true)]
                                       [key (:count v) (:state v)]))
                                   (drop from @kinds-log)))
          tick (second (first @scheduled))]
      (fresh! t0)
      ;; The topic as the running book left it: python-logtray's kind kept earlier.
      (reset! kinds-log [{:topic kinds-topic
                          :key (kind-message-key "payments" (:id (kind-named "python-logtray")))
                          :value (json/generate-string (known->json (known "python-logtray")))}])
      (reset! kinds-writing 0)      ; the stub's queues run nothing unless delivered
      (reset! producers-closed 0)
      (reset! kinds-broker-up true)
      (running!)
      (consume! [(value "node-pino")])
      (let [told (mapv :told (kind-alerts))
            before-stop (count @kinds-log)
            _ (.run ^Thread kinds-stop-hook)   ; what the JVM runs on SIGTERM
            stopped (written 1)
            closed @producers-closed
            ;; The restart: the topic read back, the same kind (another logger's record) again.
            _ (reset! kind-state (assoc (kind-book kinds-config) :loading true :held []
                                        :dropped 0))
            _ (read-kinds-topic! kind-state alerts-out false)
            alerts-before (count (kind-alerts))
            _ (consume! [(value "node-bunyan")])
            restarted (mapv :told (drop alerts-before (kind-alerts)))
            ;; The queue writes the first state while the broker is slow; the stop comes then.
            _ (reset! kinds-log [])
            _ (running!)
            _ (reset! threaded? true)
            _ (reset! delivered #{:kinds-topic})
            _ (reset! kinds-blocked (java.util.concurrent.CountDownLatch. 1))
            _ (consume! [(value "python-ecs-logging")])
            _ (tick)
            _ (wait-for "the queue's write waiting on the broker" 30 #(= 1 @kinds-writing))
            _ (consume! [(value "python-ecs-logging")])
            stop (future (flush-kinds! kind-state 60))
            _ (.countDown ^java.util.concurrent.CountDownLatch @kinds-blocked)
            ordered {:flushed (deref stop 60000 :timeout) :written (written 0)}
            ;; The broker down at the stop: bounded, said.
            _ (reset! threaded? false)
            _ (reset! delivered #{})
            _ (reset! kinds-writing 0)
            _ (reset! kinds-log [])
            _ (running!)
            latch (java.util.concurrent.CountDownLatch. 1)
            _ (reset! kinds-blocked latch)
            _ (consume! [(value "node-pino")])
            logged-before (count (logged-about "could not be written within"))
            down {:flushed (flush-kinds! kind-state 0.2)
                  :written (count @kinds-log)
                  :logged (- (count (logged-about "could not be written within")) logged-before)}]
        (.countDown latch)   ; the writer left behind ends (in Riemann the JVM has exited)
        ; ... before the next scenario: its late write would land in that one's topic.
        (doseq [^Thread t (keys (Thread/getAllStackTraces))
                :when (= "logtray-kinds-stop" (.getName t))]
          (.join t 30000))
        (reset! kinds-blocked nil)
        {:told told :before-stop before-stop :stopped stopped :closed closed
         :restarted restarted :ordered ordered :down down}))))

(defn kinds-rewritten
  "A kinds write that fails (the producer's send throws) and one the full queue drops: the
  kinds they carried are written on the next tick, in their state then (the same kind seen
  again meanwhile: count 2); the forgotten keys put back are at most max_kinds."
  []
  (when-let [path (not-empty (System/getenv "KINDS_TOPIC_MESSAGES"))]
    (let [{:keys [records]} (json/parse-string (slurp path :encoding "UTF-8") true)
          value #(get records (keyword %))
          kind-named (fn [name] (:kind (:logtray (record-of (.getBytes ^String (value name)
                                                                           "UTF-8")))))
          written (fn [] (mapv (fn [{:keys [key value]}]
                                 (let [v (json/parse-string value true)]
                                   [key (:count v) (:state v)]))
                               @kinds-log))
          tick (second (first @scheduled))]
      (fresh! t0)
      (reset! kinds-log [])
      (reset! kinds-writing 0)
      (reset! kind-state (book-load (kind-book kinds-config)
                                    [{:kind (kind-named "python-logtray") :first (- t0 60)
                                      :last (- t0 60) :count 1 :example "" :state "open"}]))
      (reset! threaded? false)   ; the queue writes on the caller's thread: in order, at once
      (reset! delivered #{:kinds-topic})
      (try
        (let [_ (reset! kinds-refused true)
              _ (consume! [(value "node-pino")])
              _ (tick)
              failed (written)
              _ (reset! kinds-refused false)
              _ (consume! [(value "node-bunyan")])   ; the same kind again, before the next tick
              _ (tick)
              after-failure (written)
              _ (reset! kinds-log [])
              _ (with-redefs [kinds-out (fn [_] (throw (java.util.concurrent.RejectedExecutionException.
                                                         "full")))]
                  (consume! [(value "python-ecs-logging")])
                  (tick))
              dropped (written)
              _ (tick)
              after-drop (written)
              small (assoc-in (kind-book kinds-config) [:config :max_kinds] 2)]
          {:failed failed :after-failure after-failure :dropped dropped :after-drop after-drop
           :gone-bounded (count (:gone (book-unwritten small [] (for [i (range 5)]
                                                                   ["s" (str i)]))))})
        (finally (reset! kinds-refused false) (reset! delivered #{}))))))

(defn shapes
  "The shape table (tests/shapes, SHAPES_DIR): per logger, what the consumer path reads from its
  first ERROR record (the file's 3rd line), and the alerts (and their lines) its records give
  when the whole file arrives 3 times within one second (Riemann's clock just after the file's
  latest own time)."
  []
  (when-let [dir (not-empty (System/getenv "SHAPES_DIR"))]
    (into (sorted-map)
          (for [^java.io.File f (sort (.listFiles (java.io.File. ^String dir)))
                :when (str/ends-with? (.getName f) ".jsonl")
                :let [logger (str/replace (.getName f) #"\.jsonl$" "")
                      lines (vec (remove str/blank? (str/split-lines (slurp f :encoding "UTF-8"))))
                      read-line (fn [^String line] (record-of (.getBytes line "UTF-8")))
                      times (keep #(:time (:logtray (read-line %))) lines)
                      at (+ 0.5 (if (seq times) (apply max times) t0))]]
            (do
              (fresh! at)
              (doseq [i (range 3)]
                (reset! clock (+ at (* 0.3 i)))
                (consume! lines))
              [logger {:fields (:logtray (read-line (nth lines 2)))
                       :alerts (mapv #(select-keys % [:pathname :count]) (alerts))
                       ; The alert lines as the listener gets them (the evidence's frame too).
                       :alert-lines (mapv alert-line (alerts))}])))))

(defn readings
  "What the consumer path reads from each message value in the file READINGS names (a JSON list
  of strings): the event's normalized :logtray map (nil when it is not a record) and, when the
  record's own \"time\" was not a number, what was kept as time_raw."
  []
  (when-let [path (not-empty (System/getenv "READINGS"))]
    (vec (for [^String v (json/parse-string (slurp path :encoding "UTF-8"))]
           (let [e (event (record-of (.getBytes v "UTF-8")))]
             {:logtray (:logtray e) :time_raw (:time_raw e)})))))

(defn field-types
  "Every field path of the documents sent to Elasticsearch, with the JSON types seen there."
  [docs]
  (let [kind (fn [v] (cond (map? v) "object" (sequential? v) "array" (string? v) "string"
                           (integer? v) "integer" (number? v) "number" (boolean? v) "boolean"
                           :else "null"))
        walk (fn walk [prefix v]
               (cons [prefix (kind v)]
                     (cond (map? v) (mapcat (fn [[k x]] (walk (str prefix "." (name k)) x)) v)
                           (sequential? v) (mapcat #(walk (str prefix "[]") %) v)
                           :else nil)))]
    (reduce (fn [m [path k]] (update m path (fnil conj (sorted-set)) k))
            (sorted-map)
            (mapcat #(walk "" %) docs))))

(defn es-types
  "The shape table, the readings (hand-written and seeded) and the never-stops junk in one day's
  index: the documents' field paths and their JSON types (one each, or Elasticsearch refuses)."
  []
  (fresh! t0)
  (let [dir (not-empty (System/getenv "SHAPES_DIR"))
        shape-lines (when dir
                      (for [^java.io.File f (.listFiles (java.io.File. ^String dir))
                            :when (str/ends-with? (.getName f) ".jsonl")
                            line (str/split-lines (slurp f :encoding "UTF-8"))
                            :when (not (str/blank? line))]
                        line))
        readings (when-let [path (not-empty (System/getenv "READINGS"))]
                   (json/parse-string (slurp path :encoding "UTF-8")))
        rnd (java.util.Random. 5)
        junk (for [_ (range 2000)] (json/generate-string (junk-value rnd 4)))
        values (concat shape-lines readings junk)]
    (consume! values)
    (tick!)
    (let [docs (for [batch (get @queued :elasticsearch)
                     line (take-nth 2 (rest (str/split-lines (bulk-body batch))))]
                 (json/parse-string line))
          types (field-types docs)]
      {:values (count values)
       :docs (count docs)
       :paths (vec (keys types))
       :conflicts (into {} (filter #(> (count (val %)) 1)) types)})))

(defn heartbeat
  "logtray's heartbeat record: answered at once over the real socket with the token; never
  counted by the rule (even one marked with an error level and a file), never indexed."
  []
  (let [record (fn [& {:as fields}]
                 (json/generate-string (merge {"logtray_heartbeat" "hb-1" "@timestamp" (iso t0)
                                               "message" "logtray heartbeat" "service" "logtray"}
                                              fields)))]
    (fresh! t0)
    (reset! delivered #{:alerts :elasticsearch})
    (let [answered (try (consume! [(record)]) (tick!) (count (alerts))
                        (finally (reset! delivered #{})))
          indexed (count (get @queued :elasticsearch []))]
      (fresh! t0)
      (consume! (for [i (range 30)]
                  (record "logtray_heartbeat" (str "hb-" i) "level" "error" "pathname" "/app/a.py"
                          "@timestamp" (iso (+ t0 (* 0.1 i))))))
      (tick!)
      {:answered answered
       :indexed indexed
       :marked-errors {:answers (count (alerts))
                       :rule-alerts (count (remove heartbeat? (alerts)))
                       :paths (count (:paths @rule-state))
                       :indexed (count (get @queued :elasticsearch []))}
       :not-heartbeats (mapv heartbeat? [{:logtray_heartbeat ""} {:logtray_heartbeat 5}
                                         {:logtray_heartbeat (apply str (repeat 65 "x"))} {}])})))

(defn wait-for
  "Polls (f) every 10 ms until it is truthy, at most `seconds`; throws with `what` otherwise."
  [what seconds f]
  (let [deadline (+ (System/nanoTime) (* seconds 1000000000))]
    (loop []
      (or (f)
          (if (> (System/nanoTime) deadline)
            (throw (ex-info (str "timed out waiting for " what) {}))
            (do (Thread/sleep 10) (recur)))))))

(defn topic-sent [] (count (:sent @broker)))

(defn every-alert-published
  "The shared rule cases again (RULE_CASES), now looking at both outputs: every alert the rule
  sends goes to the alerts topic's queue as it goes to the listener's (the same events, in the
  same order), and the record written to the topic is the listener's line without the token. A
  heartbeat's answer goes to the listener only."
  []
  (let [cases (when-let [path (System/getenv "RULE_CASES")] (json/parse-string (slurp path) true))
        per-case (vec (for [{:keys [name deliveries]} cases]
                        (do
                          (fresh! (double (:at (first deliveries))))
                          (doseq [{:keys [at values]} deliveries]
                            (reset! clock (double at))
                            (consume! values))
                          ; Every alert, the kinds' too, goes both ways; the spike rule's
                          ; alerts are compared with the case.
                          (let [listener (get @queued :alerts [])
                                topic (get @queued :alerts-topic [])]
                            {:name name
                             :same-events (= listener topic)
                             :listener (mapv #(dissoc (alert-map %) :token) (remove :told listener))
                             :topic (mapv topic-record (remove :told topic))}))))]
    (fresh! t0)
    (consume! [(json/generate-string {"logtray_heartbeat" "hb-p" "@timestamp" (iso t0)
                                      "level" "error" "pathname" "/app/a.py"})])
    {:topic-name alerts-topic
     :cases per-case
     :heartbeat {:listener (count (alerts)) :topic (count (get @queued :alerts-topic []))}}))

(defn topic-outage
  "The broker is down while three spikes alert: the streams go on, the alerts reach the TCP
  listener while the topic's send waits; once the broker is back the topic gets all three."
  []
  (fresh! (+ t0 5))
  (reset! alerts-topic-stats {:sent 0 :failed 0 :dropped 0 :down false})
  (broker-down!)
  (reset! threaded? true)
  (reset! delivered #{:alerts :alerts-topic})
  (try
    (let [tcp-before (completed :alerts)
          sent-before (topic-sent)]
      (doseq [p ["/app/pay.py" "/app/ship.py" "/app/cart.py"]]
        (consume! (for [i (range 26)] (log-json (+ t0 (* 0.1 i)) "pathname" p))))
      ;; The streams have returned; the executor's thread takes the first send soon after
      ;; (reading :in-flight at once raced it): wait until that send waits on the broker.
      (let [returned-in-flight (do (wait-for "the topic's send waiting on the down broker" 30
                                             #(pos? (:in-flight @broker)))
                                   (:in-flight @broker))]
        (wait-for "three alerts over TCP" 30 #(= 3 (- (completed :alerts) tcp-before)))
        (let [while-down {:in-flight-when-streams-returned returned-in-flight
                          :tcp-delivered (- (completed :alerts) tcp-before)
                          :topic-sent (- (topic-sent) sent-before)
                          :broker-up (:up @broker)}]
          (broker-up!)
          (wait-for "three alerts on the topic" 30 #(= 3 (- (topic-sent) sent-before)))
          {:while-down while-down
           :topic (mapv :value (drop sent-before (:sent @broker)))
           :topics (set (map :topic (drop sent-before (:sent @broker))))
           :stats @alerts-topic-stats})))
    (finally (reset! threaded? false) (reset! delivered #{}) (broker-up!))))

(defn topic-failures
  "The broker stays down (max.block.ms shortened to 100 ms): each send fails, is counted, and
  only the first is logged; the broker back, the next alert is sent and that is logged once."
  []
  (fresh! t0)
  (reset! alerts-topic-stats {:sent 0 :failed 0 :dropped 0 :down false})
  (reset! alerts-kafka nil)
  (broker-down!)
  (reset! delivered #{:alerts-topic})
  (try
    (with-redefs [alerts-kafka-config (assoc alerts-kafka-config :max.block.ms 100)]
      (dotimes [i 3] (alerts-out {:pathname (str "/app/f" i ".py") :count 26 :rule-time t0}))
      (let [failed @alerts-topic-stats]
        (broker-up!)
        (alerts-out {:pathname "/app/back.py" :count 26 :rule-time t0})
        {:while-down failed :after @alerts-topic-stats
         :config (first (:configs @broker))
         :logged (logged-about "alerts topic")
         :again (logged-about "again")}))
    (finally (reset! delivered #{}) (reset! alerts-kafka nil) (broker-up!))))

(defn topic-overflow
  "The broker is down and alerts keep coming: one send waits, the queue holds its 1000, the
  rest are dropped for the topic only (counted), never for the listener; nothing throws.
  (max.block.ms lengthened: the waiting send must not time out on a slow machine.)"
  []
  (fresh! t0)
  (reset! alerts-topic-stats {:sent 0 :failed 0 :dropped 0 :down false})
  (broker-down!)
  (reset! threaded? true)
  (reset! delivered #{:alerts-topic})
  (reset! alerts-kafka nil)
  (try
    (with-redefs [alerts-kafka-config (assoc alerts-kafka-config :max.block.ms 600000)]
    (let [sent-before (topic-sent)
          alert (fn [i] {:pathname (str "/app/o" i ".py") :count 26 :rule-time t0})]
      (alerts-out (alert 0))
      (wait-for "the first send waiting" 30 #(= 1 (:in-flight @broker)))
      (doseq [i (range 1 1010)] (alerts-out (alert i)))
      (let [while-down (assoc @alerts-topic-stats :listener (count (get @queued :alerts)))]
        (broker-up!)
        (wait-for "the queue sent" 60 #(= 1001 (- (topic-sent) sent-before)))
        {:while-down while-down :sent (- (topic-sent) sent-before)
         :logged (logged-about "alerts topic logtray-alerts dropped")
         :off (with-redefs [alerts-topic-queue nil]   ; ALERTS_TOPIC unset: the listener only
                (reset! queued {})
                (alerts-out (alert 5000))
                (update-vals @queued count))})))
    (finally (reset! threaded? false) (reset! delivered #{}) (reset! alerts-kafka nil)
             (broker-up!))))

(defn durable-before-told
  "Each alert's TCP line waits for its topic copy's ack, on the TCP queue's thread (the
  streams return at once): acked late, the line goes after the ack; never acked, after
  durable-wait-s (shortened here), counted and logged. Both lines reach the real listener."
  []
  (fresh! t0)
  (reset! alerts-topic-stats {:sent 0 :failed 0 :dropped 0 :down false})
  (reset! alerts-kafka nil)
  (reset! threaded? true)
  (reset! delivered #{:alerts :alerts-topic})
  (hold-acks!)
  (try
    (let [tcp (let [before (completed :alerts)] #(- (completed :alerts) before))
          topic-before (count (:sent @broker))
          logged-before (count (logged-about "before logtray-alerts acked"))
          late (with-redefs [durable-wait-s 600]
                 (alerts-out {:pathname "/app/late.py" :count 26 :rule-time t0})
                 (wait-for "the topic's send waiting for its ack" 30
                           #(= 1 (count (:unacked @broker))))
                 (let [before-ack (tcp)]
                   (ack-all!)
                   (wait-for "the late alert's TCP line" 30 #(= 1 (tcp)))
                   {:tcp-before-ack before-ack :topic (- (count (:sent @broker)) topic-before)}))
          _ (hold-acks!)
          sent-before (count (:sent @broker))
          never (with-redefs [durable-wait-s 0.2]
                  (alerts-out {:pathname "/app/never.py" :count 26 :rule-time t0})
                  (wait-for "the TCP line of the alert never acked" 30 #(= 2 (tcp)))
                  {:unacked (count (:unacked @broker))
                   :topic (- (count (:sent @broker)) sent-before)
                   :stats (select-keys @alerts-topic-stats [:sent :told-first])
                   :logged (mapv second (drop logged-before
                                              (logged-about "before logtray-alerts acked")))})]
      {:late late :never never})
    (finally (ack-all!) (reset! threaded? false) (reset! delivered #{}) (reset! alerts-kafka nil))))

(def results
  (assoc helpers
         :rule-cases (rule-cases)
         :kind-cases (kind-cases)
         :kinds-kept (kinds-kept)
         :kinds-strangers (kinds-strangers)
         :kinds-stop (kinds-stop)
         :kinds-rewritten (kinds-rewritten)
         :fuzz (fuzz)
         :down down-results
         :crossing (crossing)
         :gate (gate)
         :backlog (backlog)
         :far-from-now (far-from-now)
         :indexing (indexing)
         :never-stops (never-stops)
         :shapes (shapes)
         :readings (readings)
         :es-types (es-types)
         :evidence-alerts (evidence-over-the-wire)
         :bounds (bounds)
         :refused-writes (refused-writes)
         :heartbeat (heartbeat)
         :published (every-alert-published)
         :topic-outage (topic-outage)
         :topic-failures (topic-failures)
         :topic-overflow (topic-overflow)
         :durable-before-told (durable-before-told)))

(defn kinds-reload
  "A config reload (SIGHUP: the config loaded again, as Riemann does in its namespace, into a
  new core: only the new streams and tasks run) while the book has a kind not yet written:
  the kind is not told New again after it and is written on the next tick; the producer the
  earlier evaluation made is closed, one is left open."
  []
  (if-let [path (not-empty (System/getenv "KINDS_TOPIC_MESSAGES"))]
    (let [{:keys [records]} (json/parse-string (slurp path :encoding "UTF-8") true)
          value #(get records (keyword %))
          kind-named (fn [name] (:kind (:logtray (record-of (.getBytes ^String (value name)
                                                                           "UTF-8")))))
          known (fn [name] {:kind (kind-named name) :first (- t0 60) :last (- t0 60) :count 1
                            :example "" :state "open"})
          written (fn [] (mapv (fn [{:keys [key value]}]
                                 (let [v (json/parse-string value true)]
                                   [key (:count v) (:state v)]))
                               (drop 1 @kinds-log)))]
      (fresh! t0)
      (reset! kinds-log [{:topic kinds-topic
                          :key (kind-message-key "payments" (:id (kind-named "python-logtray")))
                          :value (json/generate-string (known->json (known "python-logtray")))}])
      (reset! kinds-writing 0)
      (reset! kinds-producer nil)   ; an earlier scenario's: this one counts its own
      (reset! threaded? false)
      (reset! producers-made 0)
      (reset! producers-closed 0)
      (reset! kinds-broker-up true)
      (reset! kind-state (book-load (kind-book kinds-config) [(known "python-logtray")]))
      (reset! delivered #{:kinds-topic})
      (consume! [(value "python-ecs-logging")])
      ((second (first @scheduled)))   ; a write before the reload makes the producer
      (consume! [(value "node-pino")])   ; new, not yet written at the reload
      (let [told (mapv :told (kind-alerts))
            made @producers-made
            _ (reset! top-streams [])
            _ (reset! scheduled [])
            _ (reset! batches [])
            _ (load-file config-path)
            _ (wait-for "the reloaded config's book loaded" 30 #(not (:loading @kind-state)))
            closed (try (wait-for "the old producer closed" 30 #(pos? @producers-closed))
                        (catch clojure.lang.ExceptionInfo _ false))
            before (count (kind-alerts))
            _ (consume! [(value "node-bunyan")])   ; pino's kind again, another logger's record
            after (mapv :told (drop before (kind-alerts)))
            _ ((second (first @scheduled)))]
        (swap! kinds-reader-generation inc)   ; the reloaded config's follower ends
        (reset! delivered #{})
        {:told told :made-before made :closed (boolean closed) :after after :written (written)
         :open (- @producers-made @producers-closed)}))
    (load-file config-path)))

; A config reload gives the consumer options equal to the running one's: riemann.kafka's service
; is then kept (ServiceEquiv: `=` on the options), not restarted.
; The kinds' stop hook is registered once: the reload keeps it (and no other is added).
(def hook-before kinds-stop-hook)
(def consumer-before @consumer-opts)
(def kinds-reloaded (kinds-reload))
(def reload-keeps-consumer (= consumer-before @consumer-opts))
(def reload-keeps-hook
  {:same (identical? hook-before kinds-stop-hook)
   ; Registered: removed once (then not: it was there once). The harness's exit runs none.
   :removed [(.removeShutdownHook (Runtime/getRuntime) kinds-stop-hook)
             (.removeShutdownHook (Runtime/getRuntime) kinds-stop-hook)]})

; Escaped: the JVM writes stdout in the locale's charset, ASCII in the test's bare environment.
(println "RESULTS" (json/generate-string (assoc results :reload-keeps-consumer reload-keeps-consumer
                                                :reload-keeps-hook reload-keeps-hook
                                                :kinds-reload kinds-reloaded)
                                         {:escape-non-ascii true}))
(shutdown-agents)
