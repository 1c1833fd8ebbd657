package io.inferencejobs.config;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class AuthConfigTest {
  static final String H1 = Auth.hash("first-key-0123456789");
  static final String H2 = Auth.hash("second-key-0123456789");

  @Test
  void keysAreParsedWithTheirScopes() {
    AppConfig c = ConfigLoader.load(Map.of("API_KEYS", "ci:write:" + H1 + ", dash:read+admin:" + H2.toUpperCase()));
    assertThat(c.auth().enabled()).isTrue();
    assertThat(c.auth().keys()).hasSize(2);
    AppConfig.ApiKey ci = c.auth().keys().get(0);
    assertThat(ci.name()).isEqualTo("ci");
    assertThat(ci.sha256()).isEqualTo(H1);
    assertThat(ci.allows(AppConfig.Scope.READ)).isTrue();
    assertThat(ci.allows(AppConfig.Scope.WRITE)).isTrue();
    assertThat(ci.allows(AppConfig.Scope.ADMIN)).isFalse();
    assertThat(c.auth().keys().get(1).sha256()).isEqualTo(H2);
  }

  @Test
  void theDefaultSingleNodeRunsOpenOnLoopbackOnly() {
    assertThat(ConfigLoader.load(Map.of()).auth().enabled()).isFalse();
    assertThatThrownBy(() -> ConfigLoader.load(Map.of("HTTP_HOST", "0.0.0.0")))
        .isInstanceOf(ConfigException.class).hasMessageContaining("AUTH_ENABLED").hasMessageContaining("0.0.0.0");
    assertThatThrownBy(() -> ConfigLoader.load(Map.of("HTTP_HOST", "0.0.0.0", "AUTH_ENABLED", "false")))
        .isInstanceOf(ConfigException.class);
    assertThat(ConfigLoader.load(Map.of("HTTP_HOST", "0.0.0.0", "API_KEYS", "a:read:" + H1)).auth().enabled())
        .isTrue();
  }

  @Test
  void clusteredApiNodesNeedKeysWorkerNodesDoNot() {
    assertThatThrownBy(() -> ConfigLoader.load(Map.of("CLUSTERED", "true")))
        .isInstanceOf(ConfigException.class).hasMessageContaining("API_KEYS");
    assertThat(ConfigLoader.load(Map.of("CLUSTERED", "true", "ROLES", "worker")).auth().keys()).isEmpty();
    assertThat(ConfigLoader.load(Map.of("CLUSTERED", "true", "AUTH_ENABLED", "false")).auth().enabled()).isFalse();
  }

  @Test
  void badEntriesAreNamedAndAPlainKeyIsRefused() {
    assertThatThrownBy(() -> ConfigLoader.load(Map.of("API_KEYS",
        "a:read:my-plain-secret-key,b:root:" + H1 + ",c:" + H2 + ",a:write:" + H2)))
        .isInstanceOf(ConfigException.class)
        .satisfies(e -> assertThat(((ConfigException) e).problems()).hasSizeGreaterThanOrEqualTo(3))
        .hasMessageContaining("never the key itself").hasMessageContaining("unknown scope 'root'")
        .hasMessageContaining("name:scope1+scope2:sha256hex");
  }

  @Test
  void nodesWithTheSameKeysDeriveTheSameTokenSecret() {
    byte[] one = ConfigLoader.load(Map.of("API_KEYS", "a:read:" + H1 + ",b:admin:" + H2)).auth().tokenSecret();
    byte[] two = ConfigLoader.load(Map.of("API_KEYS", "b:admin:" + H2 + ",a:read:" + H1)).auth().tokenSecret();
    byte[] other = ConfigLoader.load(Map.of("API_KEYS", "a:read:" + H1)).auth().tokenSecret();
    assertThat(one).isEqualTo(two).isNotEqualTo(other);
    assertThat(ConfigLoader.load(Map.of("API_KEYS", "a:read:" + H1, "AUTH_TOKEN_SECRET",
        "0123456789abcdef0123456789abcdef")).auth().tokenSecret()).isNotEqualTo(other);
    assertThatThrownBy(() -> ConfigLoader.load(Map.of("API_KEYS", "a:read:" + H1, "AUTH_TOKEN_SECRET", "short")))
        .isInstanceOf(ConfigException.class).hasMessageContaining("AUTH_TOKEN_SECRET");
  }

  @Test
  void allowedBucketsAlwaysIncludeTheOwnBucket() {
    AppConfig c = ConfigLoader.load(Map.of("S3_ALLOWED_BUCKETS", "models-a, models-b"));
    assertThat(c.s3().allowed("inference-jobs")).isTrue();
    assertThat(c.s3().allowed("models-b")).isTrue();
    assertThat(c.s3().allowed("elsewhere")).isFalse();
    assertThatThrownBy(() -> ConfigLoader.load(Map.of("S3_ALLOWED_BUCKETS", "Bad_Bucket")))
        .isInstanceOf(ConfigException.class).hasMessageContaining("S3_ALLOWED_BUCKETS");
  }
}
