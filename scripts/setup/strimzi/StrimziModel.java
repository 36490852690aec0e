// Strimzi's own API model (io.strimzi:api, the classes its cluster operator reads custom resources with), used two ways:
//   java -cp '<libs>/*' StrimziModel.java crds             prints the CRDs of Strimzi's Crds class as a JSON list
//   java -cp '<libs>/*' StrimziModel.java validate <file>  parses each object of a JSON list strictly, prints errors
// Strict means: Jackson parses every field into the model's types (enums, numbers, polymorphic `type`s), and then
// no object holds an unknown property (the operator only logs those) and no @JsonProperty(required = true) is missing.
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.strimzi.api.kafka.Crds;
import io.strimzi.api.kafka.model.common.UnknownPropertyPreserving;
import java.io.File;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public class StrimziModel {
  private static final Map<String, Class<?>> KINDS = Map.of(
      "Kafka", io.strimzi.api.kafka.model.kafka.Kafka.class,
      "KafkaNodePool", io.strimzi.api.kafka.model.nodepool.KafkaNodePool.class,
      "KafkaTopic", io.strimzi.api.kafka.model.topic.KafkaTopic.class,
      "KafkaMirrorMaker2", io.strimzi.api.kafka.model.mirrormaker2.KafkaMirrorMaker2.class,
      "KafkaUser", io.strimzi.api.kafka.model.user.KafkaUser.class);

  public static void main(String[] args) throws Exception {
    ObjectMapper mapper = new ObjectMapper();
    if (args.length == 1 && args[0].equals("crds")) {
      List<Object> crds = List.of(Crds.kafka(), Crds.kafkaNodePool(), Crds.kafkaTopic(), Crds.kafkaMirrorMaker2(),
          Crds.kafkaUser(), Crds.strimziPodSet(), Crds.kafkaConnect(), Crds.kafkaConnector(), Crds.kafkaBridge(),
          Crds.kafkaRebalance());
      System.out.println(mapper.writeValueAsString(crds));
      return;
    }
    if (args.length != 2 || !args[0].equals("validate")) {
      System.err.println("usage: StrimziModel crds | StrimziModel validate <objects.json>");
      System.exit(2);
    }
    ObjectMapper strict = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
        .enable(DeserializationFeature.FAIL_ON_NUMBERS_FOR_ENUMS);
    List<Map<String, Object>> results = new ArrayList<>();
    for (JsonNode obj : mapper.readTree(new File(args[1]))) {
      String kind = obj.path("kind").asText();
      String name = obj.path("metadata").path("name").asText();
      List<String> errors = new ArrayList<>();
      Class<?> type = KINDS.get(kind);
      if (type == null) {
        errors.add("kind " + kind + " is not in Strimzi's API model");
      } else {
        try {
          walk(strict.treeToValue(obj, type), "", errors, new IdentityHashMap<>());
        } catch (Exception e) {
          errors.add(e.getMessage().split("\n")[0]);
        }
      }
      Map<String, Object> result = new LinkedHashMap<>();
      result.put("kind", kind);
      result.put("name", name);
      result.put("errors", errors);
      results.add(result);
    }
    System.out.println(mapper.writeValueAsString(results));
  }

  private static void walk(Object value, String path, List<String> errors, IdentityHashMap<Object, Boolean> seen)
      throws IllegalAccessException {
    if (value == null || seen.containsKey(value)) return;
    if (value instanceof List<?> list) {
      for (int i = 0; i < list.size(); i++) {
        // Strimzi's enums map a value they do not know to null rather than failing.
        if (list.get(i) == null) errors.add(path + "[" + i + "]: not a value the model accepts");
        walk(list.get(i), path + "[" + i + "]", errors, seen);
      }
      return;
    }
    if (value instanceof Map<?, ?> map) {
      for (Map.Entry<?, ?> e : map.entrySet()) walk(e.getValue(), path + "." + e.getKey(), errors, seen);
      return;
    }
    if (value instanceof Enum<?> || !value.getClass().getName().startsWith("io.strimzi.")) return;
    seen.put(value, true);
    if (value instanceof UnknownPropertyPreserving preserving && preserving.getAdditionalProperties() != null) {
      for (String key : preserving.getAdditionalProperties().keySet())
        errors.add((path.isEmpty() ? "" : path + ".") + key + ": unknown property");
    }
    for (Class<?> c = value.getClass(); c != null && c != Object.class; c = c.getSuperclass()) {
      for (Field field : c.getDeclaredFields()) {
        if (Modifier.isStatic(field.getModifiers()) || field.getName().equals("additionalProperties")) continue;
        field.setAccessible(true);
        Object child = field.get(value);
        String childPath = (path.isEmpty() ? "" : path + ".") + field.getName();
        if (child == null && isRequired(c, field)) errors.add(childPath + ": required");
        walk(child, childPath, errors, seen);
      }
    }
  }

  private static boolean isRequired(Class<?> owner, Field field) {
    JsonProperty onField = field.getAnnotation(JsonProperty.class);
    if (onField != null && onField.required()) return true;
    String getter = "get" + Character.toUpperCase(field.getName().charAt(0)) + field.getName().substring(1);
    try {
      Method m = owner.getDeclaredMethod(getter);
      JsonProperty onGetter = m.getAnnotation(JsonProperty.class);
      return onGetter != null && onGetter.required();
    } catch (NoSuchMethodException e) {
      return false;
    }
  }
}
