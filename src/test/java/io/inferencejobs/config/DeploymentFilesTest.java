package io.inferencejobs.config;

import com.hazelcast.config.Config;
import com.hazelcast.config.KubernetesConfig;
import com.hazelcast.config.XmlConfigBuilder;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

/**
 * What can be checked offline about the deployment files under {@code cluster/}: the Dockerfiles and the Kubernetes
 * manifests set only settings the service reads, with values it accepts, declare the ports the configuration opens,
 * probe the management port's health paths, run as a non-root user, and find each other through the headless Service
 * that the Hazelcast configuration names. Where {@code kubectl} is on the PATH, every kustomize overlay is rendered
 * and the same checks run on what would be applied.
 */
class DeploymentFilesTest {

  private static final Path DOCKER = Path.of("cluster", "docker");
  private static final Path K8S = Path.of("cluster", "k8s");
  private static final Path BASE = K8S.resolve("base");
  private static final List<String> DOCKERFILES = List.of("Dockerfile", "Dockerfile.gpu");

  /** Variables that something other than the service's configuration reads, with that reader. */
  private static final Map<String, String> OTHER_VARIABLES = Map.of(
      "JAVA_TOOL_OPTIONS", "the JVM",
      "JAVA_HOME", "the JDK's tools",
      "PATH", "the shell",
      "LANG", "the JVM (default charset and file-name encoding)",
      "AWS_REGION", "the AWS SDK",
      "CUDA_VISIBLE_DEVICES", "CUDA",
      "NVIDIA_VISIBLE_DEVICES", "the NVIDIA container runtime");

  /** Stand-ins for what an operator puts in the Secret; the committed values are placeholders. */
  private static final Map<String, String> SECRET_STAND_INS = Map.of(
      "API_KEYS", "ops:admin:" + "ab".repeat(32),
      "AUTH_TOKEN_SECRET", "s".repeat(40),
      "PG_PASSWORD", "secret");

  // ---------------------------------------------------------------- Dockerfiles

  @Test
  void dockerfilesSetOnlySettingsTheServiceReads() throws IOException {
    for (String name : DOCKERFILES) {
      Dockerfile d = Dockerfile.read(DOCKER.resolve(name));
      assertThat(d.env().keySet()).as("%s: ENV names", name).allSatisfy(v -> assertThat(knownVariables())
          .as("%s sets %s, which neither ConfigLoader.ENV, logback.xml nor the allow-list reads", name, v)
          .contains(v));
    }
  }

  @Test
  void imagesInstallTheJpegLibraryTheyRequire() throws IOException {
    for (String name : DOCKERFILES) {
      Dockerfile d = Dockerfile.read(DOCKER.resolve(name));
      // required, so a worker without it refuses to start instead of quietly decoding at a third of the speed
      assertThat(d.env()).as("%s: ENV", name).containsEntry("JPEG_DECODER", "turbojpeg");
      assertThat(d.instructions()).as("%s: the runtime stage installs libturbojpeg (Ubuntu's package name)", name)
          .anyMatch(i -> i.startsWith("RUN ") && i.matches("(?s).*apt-get install[^&]*\\blibturbojpeg\\b.*"));
    }
  }

  @Test
  void dockerfilesExposeThePortsTheConfigurationOpens() throws IOException {
    for (String name : DOCKERFILES) {
      Dockerfile d = Dockerfile.read(DOCKER.resolve(name));
      Set<Integer> expected = Stream.of("HTTP_PORT", "MANAGEMENT_PORT", "CLUSTER_PORT", "CLUSTER_BUS_PORT")
          .map(v -> Integer.parseInt(effective(v, d.env()))).collect(Collectors.toCollection(TreeSet::new));
      assertThat(new TreeSet<>(d.exposed())).as("%s: EXPOSE", name).isEqualTo(expected);
    }
  }

  @Test
  void dockerfilesCheckHealthOnTheManagementPortAsANonRootUser() throws IOException {
    for (String name : DOCKERFILES) {
      Dockerfile d = Dockerfile.read(DOCKER.resolve(name));
      String check = d.last("HEALTHCHECK");
      assertThat(check).as("%s: HEALTHCHECK", name).isNotNull();
      Matcher url = Pattern.compile("http://(?:127\\.0\\.0\\.1|localhost):(\\S+?)(/health/(?:live|ready))\\b")
          .matcher(check);
      assertThat(url.find()).as("%s: HEALTHCHECK asks /health/live or /health/ready on loopback: %s", name, check)
          .isTrue();
      assertThat(resolvePort(url.group(1), d.env())).as("%s: HEALTHCHECK port", name)
          .isEqualTo(Integer.parseInt(effective("MANAGEMENT_PORT", d.env())));
      assertThat(effective("MANAGEMENT_HOST", d.env())).as("%s: MANAGEMENT_HOST must be reachable from outside "
          + "the container", name).isEqualTo("0.0.0.0");

      String user = d.last("USER");
      assertThat(user).as("%s: USER of the runtime stage", name).isNotNull();
      String uid = user.split(":")[0].trim();
      assertThat(uid).as("%s: USER", name).isNotIn("root", "0");
      assertThat(uid).as("%s: a numeric USER lets Kubernetes check runAsNonRoot", name).matches("\\d+");
    }
  }

  @Test
  void imagesStartTheServiceOnTheJvmFlagsTheShadedJarCarries() throws IOException {
    String pom = Files.readString(Path.of("pom.xml"));
    Matcher opens = Pattern.compile("<Add-Opens>([^<]+)</Add-Opens>").matcher(pom);
    Matcher exports = Pattern.compile("<Add-Exports>([^<]+)</Add-Exports>").matcher(pom);
    assertThat(opens.find() && exports.find()).as("pom.xml's manifest entries").isTrue();
    for (String name : DOCKERFILES) {
      Dockerfile d = Dockerfile.read(DOCKER.resolve(name));
      String entrypoint = d.last("ENTRYPOINT");
      assertThat(entrypoint).as("%s: ENTRYPOINT", name).contains("io.inferencejobs.app.Main");
      if (entrypoint.contains("\"-cp\"") || entrypoint.contains("\"-classpath\"")) {
        for (String module : opens.group(1).trim().split("\\s+")) {
          assertThat(entrypoint).as("%s: --add-opens %s", name, module).contains("\"" + module + "=ALL-UNNAMED\"");
        }
        for (String module : exports.group(1).trim().split("\\s+")) {
          assertThat(entrypoint).as("%s: --add-exports %s", name, module).contains("\"" + module + "=ALL-UNNAMED\"");
        }
      }
    }
    Dockerfile cpu = Dockerfile.read(DOCKER.resolve("Dockerfile"));
    Dockerfile gpu = Dockerfile.read(DOCKER.resolve("Dockerfile.gpu"));
    assertThat(cpu.text()).as("the CPU image builds the CPU-only ONNX Runtime").contains("-Pcpu");
    assertThat(gpu.text()).as("the GPU image builds the CUDA ONNX Runtime").doesNotContain("-Pcpu");
    assertThat(gpu.text()).as("ONNX Runtime 1.23's CUDA provider needs CUDA 12 and cuDNN 9")
        .containsPattern("nvidia/cuda:12\\.[0-9.]+-cudnn-runtime-ubuntu");
  }

  @Test
  void theBuildContextLetsThroughWhatTheDockerfilesCopy() throws IOException {
    for (String name : DOCKERFILES) {
      Dockerfile d = Dockerfile.read(DOCKER.resolve(name));
      Path ignoreFile = DOCKER.resolve(name + ".dockerignore");
      assertThat(ignoreFile).as("a Dockerfile-specific ignore file keeps target/ out of the context").exists();
      List<String> patterns = Files.readAllLines(ignoreFile).stream().map(String::trim)
          .filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
      for (String source : d.contextSources()) {
        assertThat(Path.of(source)).as("%s copies %s", name, source).exists();
        assertThat(included(source, patterns)).as("%s copies %s, which %s leaves out", name, source, ignoreFile)
            .isTrue();
      }
      assertThat(included("target/inference-jobs.jar", patterns)).isFalse();
      assertThat(included("data/postgres/PG_VERSION", patterns)).isFalse();
    }
  }

  @Test
  void theImageDefaultsWithKeysMakeAConfigurationTheServiceAccepts() throws IOException {
    for (String name : DOCKERFILES) {
      Map<String, String> env = new HashMap<>(Dockerfile.read(DOCKER.resolve(name)).env());
      env.put("API_KEYS", SECRET_STAND_INS.get("API_KEYS"));
      assertThatCode(() -> ConfigLoader.load(env)).as("%s: its ENV plus API_KEYS", name).doesNotThrowAnyException();
    }
  }

  // ---------------------------------------------------------------- Kubernetes manifests (as committed)

  @Test
  void theBaseManifestsDescribeAClusterTheServiceAccepts() throws IOException {
    List<Map<String, Object>> docs = new ArrayList<>();
    for (Object resource : list(mapOf(loadAll(BASE.resolve("kustomization.yaml")).get(0)).get("resources"))) {
      for (Object doc : loadAll(BASE.resolve(resource.toString()))) {
        docs.add(mapOf(doc));
      }
    }
    checkManifests("base", docs);
    Map<String, Object> worker = deployment(docs, "worker");
    assertThat(gpuLimit(container(worker))).as("base: the worker Deployment requests a GPU").isPositive();
    assertThat(kinds(docs)).contains("Secret");
  }

  @Test
  void everyEnvironmentVariableInTheManifestsAndPatchesIsASetting() throws IOException {
    Set<String> envFromConfigMaps = new LinkedHashSet<>();
    List<Path> files;
    try (Stream<Path> s = Files.walk(K8S)) {
      files = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
    }
    List<Object> all = new ArrayList<>();
    for (Path f : files) {
      all.addAll(loadAll(f));
    }
    walk(all, (key, value) -> {
      if (key.equals("configMapRef") && value instanceof Map<?, ?> m) {
        envFromConfigMaps.add(String.valueOf(m.get("name")));
      }
    });
    assertThat(envFromConfigMaps).isNotEmpty();
    Set<String> names = new TreeSet<>();
    walk(all, (key, value) -> {
      if (key.equals("env") && value instanceof List<?> l) {
        l.stream().filter(Map.class::isInstance).map(e -> ((Map<?, ?>) e).get("name")).filter(Objects::nonNull)
            .forEach(n -> names.add(n.toString()));
      }
    });
    for (Object doc : all) {
      if (doc instanceof Map<?, ?> m && "ConfigMap".equals(m.get("kind"))
          && envFromConfigMaps.contains(String.valueOf(mapOf(m.get("metadata")).get("name")))) {
        names.addAll(mapOf(m.get("data")).keySet());
      }
    }
    assertThat(names).contains("ROLES", "CLUSTER_HOST");
    assertThat(names).allSatisfy(n -> assertThat(knownVariables())
        .as("the manifests set %s, which neither ConfigLoader.ENV, logback.xml nor the allow-list reads", n)
        .contains(n));
  }

  @Test
  void theKubernetesHazelcastConfigurationDiscoversMembersInThePodsOwnNamespace() {
    KubernetesConfig k8s = hazelcastXml("/app/cluster/kubernetes-hazelcast.xml").getNetworkConfig().getJoin()
        .getKubernetesConfig();
    assertThat(k8s.isEnabled()).isTrue();
    assertThat(k8s.getProperty("service-name")).isNotBlank();
    assertThat(k8s.getProperty("namespace")).as("no fixed namespace: the manifests may go to any").isNull();
  }

  // ---------------------------------------------------------------- rendered overlays

  @Test
  void everyOverlayRendersToManifestsThatPassTheSameChecks() throws Exception {
    Assumptions.assumeTrue(onPath("kubectl"), "kubectl is not on the PATH: the overlays are not rendered");
    List<Path> overlays;
    try (Stream<Path> s = Files.list(K8S.resolve("overlays"))) {
      overlays = s.filter(p -> Files.isRegularFile(p.resolve("kustomization.yaml"))).sorted().toList();
    }
    assertThat(overlays).extracting(p -> p.getFileName().toString()).contains("cpu-only", "production");
    Map<String, List<Map<String, Object>>> rendered = new LinkedHashMap<>();
    rendered.put("base", render(BASE));
    for (Path overlay : overlays) {
      rendered.put(overlay.getFileName().toString(), render(overlay));
    }
    for (Map.Entry<String, List<Map<String, Object>>> e : rendered.entrySet()) {
      assertThat(kinds(e.getValue())).as("%s: kinds", e.getKey()).contains("ServiceAccount", "Role", "RoleBinding",
          "ConfigMap", "Service", "Deployment", "PodDisruptionBudget");
      checkManifests(e.getKey(), e.getValue());
    }

    List<Map<String, Object>> cpu = rendered.get("cpu-only");
    assertThat(gpuLimit(container(deployment(cpu, "worker")))).as("cpu-only: no GPU").isZero();
    assertThat(kinds(cpu)).contains("Secret");

    List<Map<String, Object>> production = rendered.get("production");
    assertThat(replicas(deployment(production, "api"))).as("production: API replicas").isEqualTo(2);
    assertThat(replicas(deployment(production, "worker"))).as("production: worker replicas").isEqualTo(3);
    assertThat(gpuLimit(container(deployment(production, "worker")))).as("production: GPU workers").isPositive();
    assertThat(kinds(production)).as("production: the Secret is created outside git").doesNotContain("Secret");
    assertThat(str(mapOf(service(production, "inference-jobs-api").get("spec")).get("type")))
        .isEqualTo("LoadBalancer");
  }

  // ---------------------------------------------------------------- the checks shared by committed and rendered

  private void checkManifests(String label, List<Map<String, Object>> docs) throws IOException {
    Map<String, String> config = configMapData(docs);
    Map<String, Object> secret = docs.stream().filter(d -> "Secret".equals(d.get("kind"))).findFirst().orElse(null);

    // RBAC: what Hazelcast's Kubernetes discovery reads, granted to the service account the pods run as
    Map<String, Object> role = single(docs, "Role");
    Set<String> granted = new TreeSet<>();
    for (Object rule : list(role.get("rules"))) {
      Map<String, Object> r = mapOf(rule);
      if (list(r.get("apiGroups")).contains("") && list(r.get("verbs")).containsAll(List.of("get", "list"))) {
        list(r.get("resources")).forEach(x -> granted.add(x.toString()));
      }
    }
    assertThat(granted).as("%s: Role", label).contains("endpoints", "pods", "services");
    Map<String, Object> binding = single(docs, "RoleBinding");
    assertThat(str(mapOf(binding.get("roleRef")).get("name"))).isEqualTo(name(role));
    String serviceAccount = name(single(docs, "ServiceAccount"));
    assertThat(list(binding.get("subjects"))).as("%s: RoleBinding subjects", label)
        .anySatisfy(s -> assertThat(str(mapOf(s).get("name"))).isEqualTo(serviceAccount));

    Map<String, Object> headless = docs.stream().filter(d -> "Service".equals(d.get("kind")))
        .filter(d -> "None".equals(mapOf(d.get("spec")).get("clusterIP"))).findFirst().orElse(null);
    assertThat(headless).as("%s: a headless Service for Hazelcast's discovery", label).isNotNull();
    assertThat(mapOf(headless.get("spec")).get("publishNotReadyAddresses")).isEqualTo(true);

    List<Map<String, Object>> deployments = docs.stream().filter(d -> "Deployment".equals(d.get("kind"))).toList();
    assertThat(deployments).as("%s: an API and a worker Deployment", label).hasSize(2);
    for (Map<String, Object> d : deployments) {
      String what = label + "/" + name(d);
      Map<String, Object> pod = mapOf(mapOf(mapOf(d.get("spec")).get("template")).get("spec"));
      Map<String, Object> podLabels = mapOf(mapOf(mapOf(mapOf(d.get("spec")).get("template")).get("metadata"))
          .get("labels"));
      assertThat(list(pod.get("containers"))).as("%s: one container", what).hasSize(1);
      Map<String, Object> c = container(d);
      String img = str(c.get("image"));
      Dockerfile image = Dockerfile.read(DOCKER.resolve(img.contains("gpu") ? "Dockerfile.gpu" : "Dockerfile"));
      String imageUser = image.last("USER").split(":")[0].trim();
      assertThat(str(pod.get("serviceAccountName"))).as("%s: service account", what).isEqualTo(serviceAccount);
      Map<String, Object> security = mapOf(pod.get("securityContext"));
      assertThat(security.get("runAsNonRoot")).as("%s: runAsNonRoot", what).isEqualTo(true);
      assertThat(String.valueOf(security.get("runAsUser"))).as("%s: runAsUser is the image's USER", what)
          .isEqualTo(imageUser);

      // the environment the container gets: the image's ENV, then envFrom, then env (later wins, as in Kubernetes)
      Map<String, String> env = new LinkedHashMap<>(image.env());
      Set<String> set = new TreeSet<>();
      for (Object from : list(c.get("envFrom"))) {
        Map<String, Object> ref = mapOf(mapOf(from).get("configMapRef"));
        assertThat(ref).as("%s: envFrom names a ConfigMap", what).isNotEmpty();
        env.putAll(config);
        set.addAll(config.keySet());
      }
      for (Object e : list(c.get("env"))) {
        Map<String, Object> var = mapOf(e);
        String n = str(var.get("name"));
        set.add(n);
        if (var.containsKey("value")) {
          env.put(n, str(var.get("value")));
        } else {
          Map<String, Object> from = mapOf(var.get("valueFrom"));
          if (from.containsKey("fieldRef")) {
            assertThat(n).as("%s: only CLUSTER_HOST comes from the pod's fields", what).isEqualTo("CLUSTER_HOST");
            assertThat(str(mapOf(from.get("fieldRef")).get("fieldPath"))).isEqualTo("status.podIP");
            env.put(n, "10.1.2.3");
          } else {
            Map<String, Object> ref = mapOf(from.get("secretKeyRef"));
            assertThat(ref).as("%s: %s comes from a Secret", what, n).isNotEmpty();
            String key = str(ref.get("key"));
            if (secret != null) {
              assertThat(str(ref.get("name"))).isEqualTo(name(secret));
              assertThat(mapOf(secret.get("stringData")).keySet()).as("%s: the Secret holds %s", what, key)
                  .contains(key);
              env.put(n, SECRET_STAND_INS.getOrDefault(key, str(mapOf(secret.get("stringData")).get(key))));
            } else {
              env.put(n, SECRET_STAND_INS.getOrDefault(key, ""));
            }
          }
        }
      }
      assertThat(set).as("%s: environment variable names", what).allSatisfy(n -> assertThat(knownVariables())
          .as("%s sets %s, which neither ConfigLoader.ENV, logback.xml nor the allow-list reads", what, n)
          .contains(n));
      assertThat(set).as("%s: CLUSTER_HOST from the pod's IP", what).contains("CLUSTER_HOST", "ROLES");
      assertThat(effective("CLUSTERED", env)).as("%s: CLUSTERED", what).isEqualTo("true");
      List<String> roles = List.of(effective("ROLES", env).split("\\s*,\\s*"));
      boolean api = roles.contains("api");
      assertThat(name(d)).as("%s: the name says the role", what).endsWith(api ? "-api" : "-worker");

      // the settings make a configuration the service accepts (a mounted CA file stands in for itself)
      Map<String, String> load = new HashMap<>(env);
      if (!effective("PG_SSL_ROOT_CERT", env).isEmpty()) {
        assertThat(list(c.get("volumeMounts"))).as("%s: PG_SSL_ROOT_CERT is mounted", what).anySatisfy(m ->
            assertThat(effective("PG_SSL_ROOT_CERT", env)).startsWith(str(mapOf(m).get("mountPath")) + "/"));
        Path ca = Files.createTempFile("ca", ".pem");
        ca.toFile().deleteOnExit();
        load.put("PG_SSL_ROOT_CERT", ca.toString());
      }
      assertThatCode(() -> ConfigLoader.load(load)).as("%s: ConfigLoader accepts its settings", what)
          .doesNotThrowAnyException();
      if (api) {
        assertThat(effective("HTTP_HOST", env)).as("%s: HTTP_HOST", what).isEqualTo("0.0.0.0");
      }
      assertThat(effective("MANAGEMENT_HOST", env)).as("%s: MANAGEMENT_HOST", what).isEqualTo("0.0.0.0");

      // ports: each one the configuration opens is declared, named, and nothing else
      Map<String, Integer> ports = new TreeMap<>();
      for (Object p : list(c.get("ports"))) {
        ports.put(str(mapOf(p).get("name")), ((Number) mapOf(p).get("containerPort")).intValue());
      }
      Map<String, Integer> expected = new TreeMap<>();
      expected.put("management", Integer.parseInt(effective("MANAGEMENT_PORT", env)));
      expected.put("hazelcast", Integer.parseInt(effective("CLUSTER_PORT", env)));
      expected.put("eventbus", Integer.parseInt(effective("CLUSTER_BUS_PORT", env)));
      if (api) {
        expected.put("http", Integer.parseInt(effective("HTTP_PORT", env)));
      }
      assertThat(ports).as("%s: container ports", what).isEqualTo(expected);
      assertThat(set).as("%s: fixed cluster ports", what).contains("CLUSTER_PORT", "CLUSTER_BUS_PORT");

      // probes: the management port's health paths
      assertThat(c).as("%s: probes", what).containsKeys("livenessProbe", "readinessProbe");
      assertThat(probePath(c, "livenessProbe")).isEqualTo("/health/live");
      assertThat(probePath(c, "readinessProbe")).isEqualTo("/health/ready");
      for (String probe : List.of("startupProbe", "livenessProbe", "readinessProbe")) {
        if (c.containsKey(probe)) {
          Map<String, Object> get = mapOf(mapOf(c.get(probe)).get("httpGet"));
          assertThat(str(get.get("path"))).as("%s: %s path", what, probe).isIn("/health/live", "/health/ready");
          Object port = get.get("port");
          int number = port instanceof Number n ? n.intValue() : ports.getOrDefault(str(port), -1);
          assertThat(number).as("%s: %s port", what, probe).isEqualTo(expected.get("management"));
        }
      }
      assertThat(mapOf(c.get("resources"))).as("%s: resources", what).containsKeys("requests", "limits");

      // GPUs: a GPU image asks for a GPU; a worker without one runs on its CPU
      long gpus = gpuLimit(c);
      if (img.contains("gpu")) {
        assertThat(gpus).as("%s: %s needs nvidia.com/gpu", what, img).isPositive();
      }
      if (!api && gpus == 0) {
        assertThat(effective("WORKER_DEVICES", env)).as("%s: a worker without a GPU", what).isEqualTo("cpu");
      }
      if (gpus > 0) {
        assertThat(img).as("%s: a pod with a GPU runs the GPU image", what).contains("gpu");
      }

      // Hazelcast: the configuration the pods load names the headless Service, which selects every pod
      String clusterConfig = effective("CLUSTER_CONFIG", env);
      KubernetesConfig discovery = hazelcastXml(clusterConfig).getNetworkConfig().getJoin().getKubernetesConfig();
      assertThat(discovery.isEnabled()).as("%s: %s uses Kubernetes discovery", what, clusterConfig).isTrue();
      assertThat(name(headless)).as("%s: the headless Service is the one %s names", what, clusterConfig)
          .isEqualTo(discovery.getProperty("service-name"));
      assertThat(podLabels).as("%s: the headless Service selects it", what)
          .containsAllEntriesOf(mapOf(mapOf(headless.get("spec")).get("selector")));
      Map<String, Object> hzPort = mapOf(list(mapOf(headless.get("spec")).get("ports")).get(0));
      assertThat(((Number) hzPort.get("port")).intValue()).isEqualTo(expected.get("hazelcast"));

      // a PodDisruptionBudget covers it
      assertThat(docs.stream().filter(x -> "PodDisruptionBudget".equals(x.get("kind"))))
          .as("%s: PodDisruptionBudget", what).anySatisfy(pdb -> assertThat(podLabels).containsAllEntriesOf(
              mapOf(mapOf(mapOf(pdb.get("spec")).get("selector")).get("matchLabels"))));

      if (api) {
        Map<String, Object> svc = docs.stream().filter(x -> "Service".equals(x.get("kind")) && x != headless)
            .filter(x -> podLabels.entrySet().containsAll(mapOf(mapOf(x.get("spec")).get("selector")).entrySet()))
            .findFirst().orElse(null);
        assertThat(svc).as("%s: a Service in front of the API", what).isNotNull();
        Map<String, Object> port = mapOf(list(mapOf(svc.get("spec")).get("ports")).get(0));
        assertThat(((Number) port.get("port")).intValue()).isEqualTo(expected.get("http"));
        Object target = port.get("targetPort");
        int targetNumber = target instanceof Number n ? n.intValue() : ports.getOrDefault(str(target), -1);
        assertThat(targetNumber).as("%s: the Service's targetPort", what).isEqualTo(expected.get("http"));
      }
    }
  }

  // ---------------------------------------------------------------- helpers

  /** ConfigLoader.ENV, the variables logback.xml reads, and the allow-list. */
  private static Set<String> knownVariables() throws IOException {
    Set<String> known = new TreeSet<>(ConfigLoader.ENV.keySet());
    Matcher m = Pattern.compile("\\$\\{([A-Z][A-Z0-9_]*):-").matcher(
        Files.readString(Path.of("src", "main", "resources", "logback.xml")));
    while (m.find()) {
      known.add(m.group(1));
    }
    known.addAll(OTHER_VARIABLES.keySet());
    return known;
  }

  /** A setting's value: the environment's, else the default in conf/application.json. */
  private static String effective(String variable, Map<String, String> env) {
    if (env.containsKey(variable)) {
      return env.get(variable);
    }
    String path = ConfigLoader.ENV.get(variable);
    assertThat(path).as("%s is in ConfigLoader.ENV", variable).isNotNull();
    Object node = ConfigLoader.readDefaults();
    for (String part : path.split("\\.")) {
      node = node instanceof JsonObject o ? o.getValue(part) : null;
    }
    assertThat(node).as("conf/application.json has %s (%s)", path, variable).isNotNull();
    return String.valueOf(node);
  }

  /** {@code ${VAR:-default}}, {@code $VAR} or a number. */
  private static int resolvePort(String text, Map<String, String> env) {
    Matcher m = Pattern.compile("\\$\\{?([A-Z_][A-Z0-9_]*)(?::-([^}]*))?}?").matcher(text);
    if (m.matches()) {
      assertThat(m.group(1)).isEqualTo("MANAGEMENT_PORT");
      String value = env.containsKey(m.group(1)) ? env.get(m.group(1)) : m.group(2);
      assertThat(value).as("%s has a default", text).isNotNull();
      assertThat(value).as("the default in %s", text).isEqualTo(effective("MANAGEMENT_PORT", env));
      return Integer.parseInt(value);
    }
    return Integer.parseInt(text);
  }

  /** The Hazelcast XML behind a path inside the image: a file the Dockerfiles copy from cluster/. */
  private static Config hazelcastXml(String imagePath) {
    try {
      String fileName = Path.of(imagePath).getFileName().toString();
      for (String name : DOCKERFILES) {
        Dockerfile d = Dockerfile.read(DOCKER.resolve(name));
        String copy = d.instructions().stream().filter(i -> i.startsWith("COPY ") && !i.contains("--from"))
            .filter(i -> i.contains("cluster/" + fileName)).findFirst().orElse(null);
        assertThat(copy).as("%s copies cluster/%s into the image", name, fileName).isNotNull();
        String[] words = copy.split("\\s+");
        String destination = words[words.length - 1];
        assertThat(imagePath).as("%s puts it at %s", name, imagePath)
            .isIn(destination + (destination.endsWith("/") ? "" : "/") + fileName, destination);
      }
      try (var in = Files.newInputStream(Path.of("cluster", fileName))) {
        return new XmlConfigBuilder(in).build();
      }
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  private static boolean included(String path, List<String> patterns) {
    boolean in = true;
    for (String p : patterns) {
      boolean negate = p.startsWith("!");
      String glob = negate ? p.substring(1) : p;
      boolean matches = false;
      for (Path x = Path.of(path); x != null; x = x.getParent()) {
        if (FileSystems.getDefault().getPathMatcher("glob:" + glob).matches(x)) {
          matches = true;
        }
      }
      if (matches) {
        in = negate;
      }
    }
    return in;
  }

  private static List<Map<String, Object>> render(Path dir) throws Exception {
    Process p = new ProcessBuilder("kubectl", "kustomize", dir.toString()).redirectErrorStream(false).start();
    byte[] out = p.getInputStream().readAllBytes();
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as("kubectl kustomize %s: %s", dir, err).isZero();
    List<Map<String, Object>> docs = new ArrayList<>();
    for (Object doc : yaml().loadAll(new String(out, StandardCharsets.UTF_8))) {
      if (doc != null) {
        docs.add(mapOf(doc));
      }
    }
    assertThat(docs).as("kubectl kustomize %s", dir).isNotEmpty();
    return docs;
  }

  private static boolean onPath(String command) {
    String path = System.getenv("PATH");
    return path != null && Stream.of(path.split(File.pathSeparator))
        .anyMatch(dir -> Files.isExecutable(Path.of(dir, command)));
  }

  private static Yaml yaml() {
    return new Yaml(new SafeConstructor(new LoaderOptions()));
  }

  private static List<Object> loadAll(Path file) throws IOException {
    List<Object> docs = new ArrayList<>();
    for (Object doc : yaml().loadAll(Files.readString(file))) {
      if (doc != null) {
        docs.add(doc);
      }
    }
    return docs;
  }

  private static void walk(Object node, java.util.function.BiConsumer<String, Object> visit) {
    if (node instanceof Map<?, ?> m) {
      m.forEach((k, v) -> {
        visit.accept(String.valueOf(k), v);
        walk(v, visit);
      });
    } else if (node instanceof List<?> l) {
      l.forEach(x -> walk(x, visit));
    }
  }

  private static Map<String, String> configMapData(List<Map<String, Object>> docs) {
    Map<String, String> data = new LinkedHashMap<>();
    mapOf(single(docs, "ConfigMap").get("data")).forEach((k, v) -> data.put(k, str(v)));
    return data;
  }

  private static Map<String, Object> single(List<Map<String, Object>> docs, String kind) {
    List<Map<String, Object>> found = docs.stream().filter(d -> kind.equals(d.get("kind"))).toList();
    assertThat(found).as("one %s", kind).hasSize(1);
    return found.get(0);
  }

  private static Map<String, Object> deployment(List<Map<String, Object>> docs, String role) {
    return docs.stream().filter(d -> "Deployment".equals(d.get("kind")) && name(d).endsWith("-" + role))
        .findFirst().orElseThrow(() -> new AssertionError("no " + role + " Deployment"));
  }

  private static Map<String, Object> service(List<Map<String, Object>> docs, String name) {
    return docs.stream().filter(d -> "Service".equals(d.get("kind")) && name(d).equals(name))
        .findFirst().orElseThrow(() -> new AssertionError("no Service " + name));
  }

  private static Map<String, Object> container(Map<String, Object> deployment) {
    return mapOf(list(mapOf(mapOf(mapOf(deployment.get("spec")).get("template")).get("spec")).get("containers"))
        .get(0));
  }

  private static int replicas(Map<String, Object> deployment) {
    return ((Number) mapOf(deployment.get("spec")).get("replicas")).intValue();
  }

  private static long gpuLimit(Map<String, Object> container) {
    Object n = mapOf(mapOf(container.get("resources")).get("limits")).get("nvidia.com/gpu");
    return n == null ? 0 : Long.parseLong(n.toString());
  }

  private static String probePath(Map<String, Object> container, String probe) {
    return str(mapOf(mapOf(container.get(probe)).get("httpGet")).get("path"));
  }

  private static Set<String> kinds(List<Map<String, Object>> docs) {
    return docs.stream().map(d -> str(d.get("kind"))).collect(Collectors.toCollection(TreeSet::new));
  }

  private static String name(Map<String, Object> doc) {
    return str(mapOf(doc.get("metadata")).get("name"));
  }

  private static String str(Object o) {
    return o == null ? "" : o.toString();
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> mapOf(Object o) {
    return o instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
  }

  @SuppressWarnings("unchecked")
  private static List<Object> list(Object o) {
    return o instanceof List<?> l ? (List<Object>) l : List.of();
  }

  /**
   * The instructions of a Dockerfile's last stage (the image), continuation lines joined and comments dropped, and
   * the whole text for the build stages.
   */
  private record Dockerfile(String text, List<String> instructions) {

    static Dockerfile read(Path file) throws IOException {
      String text = Files.readString(file);
      List<String> all = new ArrayList<>();
      StringBuilder current = new StringBuilder();
      for (String line : text.split("\n", -1)) {
        String trimmed = line.trim();
        if (trimmed.startsWith("#") || trimmed.isEmpty()) { // as Docker, also inside a continued instruction
          continue;
        }
        boolean continues = trimmed.endsWith("\\");
        current.append(continues ? trimmed.substring(0, trimmed.length() - 1) : trimmed).append(' ');
        if (!continues) {
          all.add(current.toString().trim());
          current.setLength(0);
        }
      }
      int lastFrom = 0;
      for (int i = 0; i < all.size(); i++) {
        if (all.get(i).toUpperCase(java.util.Locale.ROOT).startsWith("FROM ")) {
          lastFrom = i;
        }
      }
      return new Dockerfile(text, List.copyOf(all.subList(lastFrom, all.size())));
    }

    /** The last instruction of that kind, without its keyword, or null. */
    String last(String keyword) {
      String found = null;
      for (String i : instructions) {
        if (i.toUpperCase(java.util.Locale.ROOT).startsWith(keyword + " ")) {
          found = i.substring(keyword.length()).trim();
        }
      }
      return found;
    }

    /** ENV of the image, in both forms ({@code ENV A=b C="d e"} and {@code ENV A b}). */
    Map<String, String> env() {
      Map<String, String> env = new LinkedHashMap<>();
      for (String i : instructions) {
        if (!i.startsWith("ENV ")) {
          continue;
        }
        String rest = i.substring(4).trim();
        if (!rest.matches("^[A-Za-z_][A-Za-z0-9_]*=.*")) {
          String[] kv = rest.split("\\s+", 2);
          env.put(kv[0], kv.length > 1 ? kv[1] : "");
          continue;
        }
        Matcher m = Pattern.compile("([A-Za-z_][A-Za-z0-9_]*)=(\"(?:[^\"\\\\]|\\\\.)*\"|\\S*)").matcher(rest);
        while (m.find()) {
          String v = m.group(2);
          env.put(m.group(1), v.startsWith("\"") ? v.substring(1, v.length() - 1) : v);
        }
      }
      return env;
    }

    List<Integer> exposed() {
      List<Integer> ports = new ArrayList<>();
      for (String i : instructions) {
        if (i.startsWith("EXPOSE ")) {
          for (String p : i.substring(7).trim().split("\\s+")) {
            ports.add(Integer.parseInt(p.replace("/tcp", "")));
          }
        }
      }
      return ports;
    }

    /** What COPY takes from the build context (not from another stage). */
    List<String> contextSources() {
      List<String> sources = new ArrayList<>();
      Pattern copy = Pattern.compile("^(?:COPY|ADD)\\s+(.*)$");
      for (String i : text.replace("\\\n", " ").lines().map(String::trim).toList()) {
        Matcher m = copy.matcher(i);
        if (m.matches() && !i.contains("--from")) {
          List<String> words = new ArrayList<>(List.of(m.group(1).trim().split("\\s+")));
          words.removeIf(w -> w.startsWith("--"));
          sources.addAll(words.subList(0, words.size() - 1));
        }
      }
      return sources;
    }
  }
}
