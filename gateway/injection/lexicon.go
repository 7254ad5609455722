package injection

// The multilingual lexicon of the concept rules (concepts.go): for each
// concept, the words and stems that express it in the twelve claimed
// languages (en de fr es it pt ru zh ja ko ar hi), separated by "|".
//
// Entries are written as people spell them and normalised at New exactly as
// text is (accents and combining marks dropped, Hangul decomposed, …).
// An entry that starts with an ASCII letter or digit only counts at the start
// of a word; it must also end a word unless it ends in "*" (a stem:
// "ignor*" is ignore, ignoriere, ignorez, ignora, ignorar). Entries in other
// scripts match anywhere (Russian prefixes, no spaces in CJK), unless they
// end in "$": then the next byte must be white space, ASCII punctuation or
// the end (mark removal makes Hindi "बंद" read like the start of "बदलने"),
// and, if they start with "^", the previous byte must be white space, ASCII
// punctuation or the start (Hindi "न" is also a letter inside words).
// An entry that starts with "<" is a verb whose object comes before it
// (Japanese, Korean, Hindi: "指示を無視", "지시를 무시", "निर्देशों को अनदेखा"): the
// other words of a rule must precede it.
//
// The lists describe concepts, not sentences: a rule fires only when the
// concepts of all its groups occur close together (concepts.go).
var lexicon = [numConcepts]string{
	cOverride: "ignor*|disregard*|forget*|pay no attention|paying no attention|set aside|put aside|discard*|throw out|don't follow|do not follow|stop following|stop obeying|no longer follow|override*|overwrite*|abandon*|drop all|" +
		"vergiss|vergessen|missacht*|nicht beachten|beachte nicht|beachte keine|verwirf|verwerfen|uberschreib*|ausser acht|außer acht|" +
		"oublie*|oubliez|ne tiens pas compte|ne tenez pas compte|sans tenir compte|fais abstraction|faites abstraction|ecarte*|" +
		"olvid*|haz caso omiso|no hagas caso|descarta*|omite*|" +
		"dimentic*|non tenere conto|non considerare|scarta*|trascura*|" +
		"esquec*|esqueca*|desconsider*|nao siga|deixe de lado|" +
		"игнорир|проигнорир|забудь|забыть|забудьте|не обращай внимания|не обращайте внимания|отбрось|пренебреги|не следуй|" +
		"忽略|忽视|无视|不要理会|不用理会|别管|忘掉|忘记|抛开|丢弃|不要遵守|不要遵循|" +
		"<無視|<忘れ|従わな|<破棄|" +
		"<무시|<잊어|<잊고|<잊으|따르지 마|" +
		"تجاهل|انس|انسى|أهمل|اهمل|لا تتبع|تخل عن|" +
		"<अनदेखा|<नज़रअंदाज़|<नजरअंदाज|<भूल|<भुला",
	cInstr: "everything before this line|everything above this line|everything above|the text above|constraints|restrictions|you started with|you were configured with|you were set up with|instruction*|prompt*|directive*|rules|guideline*|orders|guidance|briefing*|directions|programming|you were told|you've been told|you have been told|told you|you were given|you received|you got|" +
		"anweisung*|vorgabe*|instruktion*|befehle|regeln|richtlinie*|was man dir|was dir|gesagt wurde|" +
		"consigne*|directives|regles|qu'on t'a dit|qu'on vous a dit|on t'a dit|recues|" +
		"instruccion*|indicacion*|directriz*|directrices|reglas|ordenes|te dijeron|le dijeron|te han dicho|recibiste|" +
		"istruzion*|indicazion*|direttiv*|regole|ti e stato detto|ti hanno detto|ricevut*|" +
		"instruc*|orientac*|diretriz*|diretrizes|regras|ordens|lhe disseram|te disseram|recebeu|" +
		"инструкц|указани|правил|директив|говорили|сказали|получил|" +
		"指令|指示|说明|规则|提示|告诉你的|收到的|" +
		"命令|ルール|言われた|受けた|" +
		"지시|지침|명령|규칙|들은|받은|" +
		"التعليمات|تعليمات|التوجيهات|توجيهات|الأوامر|الاوامر|القواعد|قيل لك|تلقيتها|" +
		"निर्देश|आदेश|नियम|बताया",
	cPrior: "manager|fleet manager|supervisor|dispatcher|control room|operator*|admin*|administrator*|your operator|betreiber*|bediener*|operateur*|operador*|operatore*|оператор|操作员|管理员|オペレーター|管理者|운영자|관리자|المشغل|المسؤول|ऑपरेटर|व्यवस्थापक|you started with|you began with|previous*|prior|earlier|above|preceding|original*|initial|so far|before|system|developer|everything|anything|all of|" +
		"vorherig*|bisherig*|vorigen|obigen|fruher*|ursprunglich*|vorher|zuvor|alles|" +
		"precedent*|anterieur*|jusqu'ici|auparavant|avant|initiales|d'origine|tout ce|" +
		"anterior*|previa*|previo*|antes|hasta ahora|originales|todo lo|" +
		"precedent*|prima|finora|in precedenza|originali|tutto quello|tutto cio|" +
		"ate agora|originais|tudo o que|" +
		"предыдущ|прежн|раньше|ранее|до этого|исходн|всё|все, что|" +
		"之前|以前|先前|上面|上述|原来|原先|此前|一切|" +
		"これまで|前に|前の|先ほど|上記|全部|すべて|" +
		"이전|전에|앞의|위의|기존|모두|모든|" +
		"السابقة|سابقا|من قبل|الأصلية|كل ما|" +
		"पिछले|पिछला|पहले|पूर्व|सब कुछ|सभी",
	cVoid: "outdated|out of date|veraltet*|perime*|obsoletes|desactualizad*|obsolet*|superat*|desatualizad*|устарел|过时|古い|오래된|قديمة|पुराने|expired|have ended|has ended|are suspended|is suspended|no longer hold|void|invalid*|cancel*|obsolete|no longer apply|no longer applies|no longer valid|no longer in effect|no longer in force|superseded|revoked|null and void|do not apply|don't apply|are lifted|" +
		"ungultig*|nicht mehr gultig|aufgehoben|ausser kraft|außer kraft|widerrufen|hinfallig|gelten nicht mehr|" +
		"annule*|caduque*|ne sont plus valables|ne s'appliquent plus|plus valides|ne valent plus|" +
		"anulad*|ya no son validas|ya no son validos|ya no valen|sin efecto|ya no aplican|" +
		"annullat*|non sono piu valid*|non valgono piu|revocat*|" +
		"nao valem mais|nao sao mais valid*|revogad*|sem efeito|" +
		"недействительн|отменен|больше не действуют|не действуют|аннулирован|утратили силу|" +
		"作废|无效|失效|不再有效|不再适用|" +
		"無効|取り消|撤回|" +
		"무효|유효하지 않|취소|폐기|" +
		"لم تعد صالحة|ملغاة|لاغية|باطلة|غير صالحة|" +
		"मान्य नहीं|अमान्य|रद्द",
	cReal: "新目标|新任务|新使命|new|neue*|neues|neuer|nouvel|nouvelle|nuevo|nueva|nuovo|nuova|novo|nova|новая|новый|новое|新的|新しい|새|새로운|الجديد|الجديدة|नया|नई|real|actual|true|secret|hidden|" +
		"eigentlich*|wahre*|wirklich*|geheim*|" +
		"veritable|vraie|vrai|reelle|secrete|" +
		"verdader*|autentic*|" +
		"vero|vera|reale|segreto|" +
		"verdadeir*|" +
		"настоящ|истинн|реальн|тайн|" +
		"真正|真实|实际|秘密|" +
		"本当|真の|本来|" +
		"진짜|실제|진정한|숨겨진|" +
		"الحقيقية|الحقيقي|الفعلية|" +
		"असली|वास्तविक|सच्चा",
	cTask: "objective*|goal*|task*|mission*|purpose|job|assignment|priority|" +
		"aufgabe*|ziel|auftrag|" +
		"mission|tache|objectif*|" +
		"objetivo*|tarea*|mision|" +
		"obiettivo|compito|missione|" +
		"tarefa*|missao|" +
		"задач|цель|мисси|" +
		"任务|目标|使命|" +
		"任務|目的|目標|タスク|" +
		"임무|목표|작업|" +
		"مهمت|مهمة|هدف|" +
		"काम|लक्ष्य|कार्य|मिशन",
	cYou: "tus|tuas|tuoi|tue|suas|deine|deinen|deiner|твои|твоих|你的|あなたの|당신의|تعليماتك|तुम्हारे|هدفك|غايتك|عملك|your|you|dein*|deine|ta|ton|tes|tu|tuo|tua|seu|sua|ваш|твоя|твой|твоё|твое|你|あなた|당신|너의|الخاص بك|مهمتك|तुम्हारा|आपका",
	cDisable: "stumm|silencia*|silenzia*|silencie|заглуши|<静音|<消音|<음소거|اكتم|<म्यूट|ignor*|außer betrieb|ausser betrieb|أطفئ|اطفئ|أغلق|اغلق|disabl*|deactivat*|turn off|turning off|switch off|switching off|shut off|shut down|power off|bypass*|overrid*|defeat*|suspend*|mute|silence|kill|jumper*|tape over|get rid of|" +
		"deaktivier*|abschalt*|ausschalt*|schalte|schalt|uberbruck*|umgeh*|" +
		"desactiv*|coupe|couper|eteins|eteindre|contourn*|shunt*|neutralis*|" +
		"apaga*|anula*|desconecta*|puentea*|" +
		"disattiv*|spegni|disabilit*|escludi|aggira*|" +
		"desativ*|deslig*|contorne*|" +
		"отключ|выключ|деактивир|обойди|обход|сними|снять|" +
		"关闭|关掉|禁用|停用|绕过|屏蔽|" +
		"<無効|<オフ|<切って|<切る|<外して|" +
		"<끄|<꺼|<비활성화|<우회|" +
		"عطل|تعطيل|ايقاف تشغيل|تجاوز|" +
		"<बंद$|<निष्क्रिय|<बाईपास",
	cSafety: "safety alarm*|ssm|sicherheitsalarm*|alarmes de securite|alarmas de seguridad|allarmi di sicurezza|alarmes de seguranca|сигналы безопасности|安全警报|安全アラーム|안전 경보|إنذارات السلامة|सुरक्षा अलार्म|proximity sensor*|presence sensor*|obstacle sensor*|safety sensor*|capteurs de proximite|capteur de proximite|sensores de proximidad|sensor de proximidad|sensori di prossimita|sensore di prossimita|sensores de proximidade|sensor de proximidade|датчики приближения|датчик приближения|接近传感器|近接センサ|근접 센서|حساسات القرب|حساس القرب|प्रॉक्सिमिटी सेंसर|näherungssensor*|naherungssensor*|force sensor*|torque sensor*|kraftsensor*|capteur d'effort|capteur de force|sensor de fuerza|sensore di forza|sensor de forca|датчик усилия|датчик силы|力传感器|力覚センサ|힘 센서|مستشعر القوة|बल सेंसर|escaner de seguridad|scanner di sicurezza|scanner de seguranca|сканер безопасности|安全扫描|安全スキャナ|안전 스캐너|सुरक्षा स्कैनर|सुरक्षा सेंसर|safety sys*|safety func*|safety feat*|safety lim*|safety check*|safety contr*|safety mon*|safety scan*|safety sens*|safety interl*|safety stop*|safety-rated*|safety rated*|safety layer*|safety guard*|safety measure*|safety setting*|safety circuit*|safety relay*|safety plc|safety restriction*|safety constraint*|" +
		"collision avoid*|collision detect*|collision-avoid*|anti-collision|anticollision|light curtain*|e-stop*|estop*|emergency stop*|interlock*|geofenc*|geo-fenc*|speed and separation*|speed-and-separation*|separation monitor*|human detect*|person detect*|people detect*|presence detect*|obstacle detect*|proximity sens*|bumper*|protective stop*|force limit*|torque limit*|speed limit*|velocity limit*|watchdog*|" +
		"sicherheits*|kollisionsvermeid*|kollisionserkenn*|kollisionsschutz|lichtvorhang*|lichtgitter*|not-halt*|nothalt*|not-aus*|notaus*|geschwindigkeitsbegrenz*|geschwindigkeitsgrenz*|kraftbegrenz*|schutzfeld*|personenerkennung|verriegelung*|" +
		"systeme de securite|systemes de securite|fonction de securite|fonctions de securite|limites de securite|limite de securite|dispositif de securite|dispositifs de securite|controles de securite|capteur de securite|scanner de securite|restrictions de securite|evitement des collisions|evitement de collision*|anti-collision|detection de collision*|barriere immaterielle|rideau lumineux|arret d'urgence|limite de vitesse|detection de personne*|verrouillage*|" +
		"sistema de seguridad|sistemas de seguridad|limites de seguridad|funciones de seguridad|dispositivo de seguridad|dispositivos de seguridad|restricciones de seguridad|controles de seguridad|evitacion de colisiones|anticolision*|deteccion de colision*|cortina de luz|cortina optica|parada de emergencia|limite de velocidad|deteccion de personas|enclavamiento*|" +
		"sistema di sicurezza|sistemi di sicurezza|limiti di sicurezza|funzioni di sicurezza|dispositivi di sicurezza|restrizioni di sicurezza|controlli di sicurezza|anticollisione|rilevamento collision*|barriera fotoelettrica|barriere fotoelettriche|arresto di emergenza|limite di velocita|rilevamento persone|interblocco*|" +
		"sistema de seguranca|sistemas de seguranca|limites de seguranca|funcoes de seguranca|dispositivos de seguranca|restricoes de seguranca|travas de seguranca|anticolisao|deteccao de colis*|cortina de luz|parada de emergencia|limite de velocidade|intertravamento*|deteccao de pessoas|" +
		"систем безопасности|систему безопасности|система безопасности|системы безопасности|ограничения безопасности|ограничений безопасности|функции безопасности|функцию безопасности|защит|столкновен|аварийн|световой завес|световую завес|ограничение скорости|ограничения скорости|блокировк|" +
		"安全功能|安全系统|安全限制|安全装置|安全检查|安全防护|安全机制|防碰撞|防撞|避障|碰撞检测|急停|紧急停止|光幕|限速|速度限制|联锁|人员检测|" +
		"安全機能|安全制限|安全装置|安全システム|安全チェック|衝突回避|衝突検知|非常停止|ライトカーテン|速度制限|インターロック|人検知|" +
		"안전 기능|안전 제한|안전 시스템|안전장치|안전 장치|충돌 회피|충돌 방지|충돌 감지|비상정지|비상 정지|라이트 커튼|속도 제한|인터록|" +
		"نظام السلامة|انظمة السلامة|أنظمة السلامة|قيود السلامة|حدود السلامة|ميزات السلامة|وظائف السلامة|ماسح السلامة|مستشعر السلامة|حساس السلامة|نظام الأمان|انظمة الامان|الاصطدام|ايقاف الطوارئ|إيقاف الطوارئ|حد السرعة|الستارة الضوئية|" +
		"सुरक्षा सीम|सुरक्षा प्रणाली|सुरक्षा प्रतिबंध|सुरक्षा सुविधा|सुरक्षा जांच|सुरक्षा तंत्र|टक्कर|आपातकालीन|गति सीमा|लाइट कर्टेन",
	cRaise: "to the maximum|to maximum|to max|auf maximum|auf das maximum|au maximum|al maximo|al massimo|ao maximo|на максимум|调到最大|开到最大|raise*|raising|increase*|increasing|bump*|double*|lift the|lift all|max out|crank up|" +
		"erhoh*|hebe*|anheb*|" +
		"augment*|releve*|relever|" +
		"sube|subir|aument*|eleva*|" +
		"alza*|" +
		"eleve|suba|" +
		"подними|поднять|увелич|повыс|" +
		"提高|提升|增加|调高|加大|" +
		"<引き上げ|<上げ|<増や|<最大に|" +
		"<올리|<올려|<높이|<증가|<최대로|" +
		"ارفع|زد|زيادة|رفع|" +
		"<बढ़ा|<बढा|<अधिकतम पर",
	cLimit: "drehmomentlimit*|drehmomentgrenz*|kraftlimit*|limite de couple|limite de par|limite di coppia|limite de torque|ограничение момента|扭矩限制|トルク制限|토크 제한|حد العزم|टॉर्क सीमा|speed limit*|velocity limit*|force limit*|torque limit*|payload limit*|max speed|max_speed|max-speed|maximum speed|max velocity|max_velocity|maximum velocity|speed cap*|velocity cap*|speed ceiling|force threshold*|" +
		"geschwindigkeitsbegrenz*|geschwindigkeitsgrenz*|tempolimit|kraftgrenz*|kraftbegrenz*|hochstgeschwindigkeit|" +
		"limite de vitesse|vitesse maximale|limite d'effort|limite de force|" +
		"limite de velocidad|velocidad maxima|limite de fuerza|" +
		"limite di velocita|velocita massima|limite di forza|" +
		"limite de velocidade|velocidade maxima|limite de forca|" +
		"ограничение скорости|ограничения скорости|лимит скорости|максимальную скорость|предел скорости|" +
		"速度限制|限速|最大速度|力限制|" +
		"速度制限|力制限|" +
		"속도 제한|최대 속도|힘 제한|" +
		"حد السرعة|السرعة القصوى|" +
		"गति सीमा|अधिकतम गति",
	cEvenIf: "あっても|होने पर भी|पर भी|तब भी|फिर भी|even if|even when|even though|even with|regardless of|despite|no matter if|whether or not|" +
		"auch wenn|selbst wenn|trotz|egal ob|" +
		"meme si|meme quand|meme avec|malgre|" +
		"aunque|incluso si|incluso con|a pesar de|" +
		"anche se|anche con|nonostante|" +
		"mesmo com|mesmo que|mesmo se|apesar de|" +
		"даже если|даже когда|несмотря|" +
		"即使|即便|哪怕|不管|无论|" +
		"いても|であっても|にかかわらず|" +
		"있어도|있더라도|상관없이|" +
		"حتى لو|حتى وإن|حتى وان|بغض النظر|" +
		"भले ही|चाहे",
	cPeople: "operai*|العامل|عامل|visitor*|guest*|besucher*|visiteur*|visitante*|visitator*|посетител|参观者|访客|見学者|来客|방문객|الزوار|زوار|आगंतुक|شخص|الناس|people|person*|human*|worker*|someone|anyone|operator*|pedestrian*|staff|personnel|bystander*|children|" +
		"personen|mensch*|mitarbeiter*|arbeiter*|jemand|" +
		"personne*|operateur*|ouvrier*|quelqu'un|" +
		"persona*|trabajador*|operario*|alguien|" +
		"persone|lavorator*|operator*|qualcuno|" +
		"pessoa*|trabalhador*|operador*|alguem|" +
		"люди|людей|человек|рабоч|персонал|кто-то|" +
		"有人|人员|工人|行人|" +
		"人が|作業者|作業員|" +
		"사람|작업자|" +
		"أشخاص|اشخاص|العمال|أحد|" +
		"लोग|कर्मचारी|कोई",
	cApproval: "approv*|confirmation*|sign-off|signoff|authori*|review|" +
		"freigabe*|genehmigung*|bestatigung*|" +
		"validation*|approbation*|autorisation*|" +
		"aprobacion*|autorizacion*|confirmacion*|validacion*|" +
		"approvazion*|autorizzazion*|conferma*|" +
		"aprovacao*|autorizacao*|confirmacao*|" +
		"подтвержден|одобрен|согласован|разрешени|" +
		"审批|批准|确认|授权|" +
		"承認|確認|許可|" +
		"승인|확인|허가|" +
		"موافقة|الموافقة|تأكيد|" +
		"अनुमोदन|मंजूरी|पुष्टि",
	cNoNeed: "saute|sautez|sauter|passe outre|salta|saltate|saltar|saltare|ometti|pule|pular|пропусти|пропустить|スキップ|飛ばし|省略|건너뛰|تخط|تخطى|छोड़|छोड|no|not needed|not required|not necessary|no need|unnecessary|without|skip*|bypass*|pre-approved|preapproved|don't ask|do not ask|don't wait|do not wait|" +
		"nicht notig|nicht erforderlich|nicht notwendig|ohne|keine|uberspring*|" +
		"n'est necessaire|n'est pas necessaire|pas besoin|sans|aucune|aucun|" +
		"no hace falta|no es necesari*|sin|ninguna|" +
		"non serve|non e necessari*|senza|nessuna|" +
		"nao e precis*|nao precisa|nao e necessari*|sem|nenhuma|" +
		"не требуется|не нужн|без|" +
		"不需要|无需|不用|跳过|" +
		"不要です|不要|なしで|せずに|" +
		"필요 없|없이|생략|" +
		"لا حاجة|دون|بدون|" +
		"ज़रूरत नहीं|जरूरत नहीं|बिना|आवश्यकता नहीं",
	cSecret: "парол|كلمة مرور|keys|environment variable*|env var*|env variable*|umgebungsvariable*|geheimnis*|variables d'environnement|variable d'environnement|variables de entorno|secretos|variabili d'ambiente|segreti|variaveis de ambiente|segredos|переменные окружения|переменных окружения|секрет|环境变量|秘密|環境変数|秘密情報|환경 변수|비밀 정보|متغيرات البيئة|الأسرار|एनवायरनमेंट वेरिएबल|सीक्रेट|system prompt*|system message|system instructions|hidden instructions|hidden rules|initial instructions|api key*|api-key*|api_key*|apikey*|private key*|signing key*|secret key*|secret*|password*|passphrase*|credential*|access token*|bearer token*|auth token*|session token*|capability token*|ssh key*|id_rsa|.env|" +
		"systemprompt*|system-prompt*|api-schlussel*|api-schluessel*|privaten schlussel*|privater schlussel*|signaturschlussel*|geheimen schlussel*|passwort*|kennwort*|zugangsdaten|" +
		"prompt systeme|cle api|cles api|cle privee|cles privees|cle de signature|mot de passe|mots de passe|identifiants|jeton*|" +
		"prompt del sistema|clave api|claves api|clave privada|claves privadas|clave de firma|contrasena*|credenciales|" +
		"prompt di sistema|chiave api|chiavi api|chiave privata|chiavi private|chiave di firma|credenziali|" +
		"prompt de sistema|chave de api|chaves de api|chave api|chaves api|chave privada|chave de assinatura|senha*|credenciais|" +
		"системный промпт|системного промпта|системные инструкции|api-ключ|ключи api|ключ api|закрытый ключ|приватный ключ|секретный ключ|ключ подписи|учетные данные|учётные данные|токен|" +
		"系统提示|api密钥|密钥|私钥|密码|凭据|令牌|" +
		"システムプロンプト|apiキー|秘密鍵|パスワード|認証情報|トークン|" +
		"시스템 프롬프트|api 키|비밀 키|개인 키|서명 키|비밀번호|자격 증명|토큰|" +
		"موجه النظام|مفاتيح api|مفتاح api|مفتاح التوقيع|المفتاح الخاص|كلمة المرور|كلمات المرور|بيانات الاعتماد|" +
		"सिस्टम प्रॉम्प्ट|api कुंजी|कुंजियाँ|कुंजी|पासवर्ड|क्रेडेंशियल",
	cExfilVerb: "回答|<回答|<답하|reply with|respond with|answer with|antworte mit|reponds avec|responde con|rispondi con|responda com|ответь|回复|返信|답장|أجب|जवाब दो|list*|enumerate*|give me|liste|auflist*|nenne|enumere|enumera|elenca|elenque|перечисли|назови|列出|告诉我|列举|اذكر|عدد|пришли|пришлите|скинь|сообщи|напиши|дай мне|include*|send*|publish*|post*|upload*|print|printing|print out|reveal*|share|sharing|output|leak*|email|e-mail|attach*|copy|paste|expose|disclose*|dump|display|displaying|show|show me|showing|tell me|echo*|forward*|transmit*|append*|write out|broadcast*|" +
		"sende*|schick*|veroffentlich*|fuge*|einfug*|zeig*|gib|ausgeb*|teile*|poste*|hochlad*|kopier*|" +
		"envoie|envoyez|envoyer|envoie-moi|publie|publiez|publier|ajoute|ajoutez|ajouter|inclus|incluez|inclure|affiche|affichez|afficher|revele|revelez|reveler|partage|partagez|partager|copie|copiez|copier|donne-moi|transmets|transmettez|transmettre|imprime|imprimez|imprimer|" +
		"envia*|manda*|publica*|incluy*|muestra*|revela*|comparte*|imprime*|anade*|" +
		"invia*|pubblica*|includi*|inserisci*|mostra*|rivela*|condividi*|stampa*|aggiungi*|" +
		"envie*|publique*|inclua*|mostre*|compartilh*|copie*|imprima*|adicione*|" +
		"отправ|опубликуй|опубликов|добавь|включи|покажи|раскрой|поделись|скопируй|выведи|напечатай|перешли|" +
		"发送|发到|发给|发布|公开|写进|写入|包含|附上|打印|输出|显示|泄露|上传|分享|" +
		"<送信|<送って|<公開|<含め|<添付|<表示|<出力|<教え|<共有|<投稿|<アップロード|<列挙|" +
		"<보내|<전송|<게시|<공개|<포함|<첨부|<출력|<표시|<공유|<업로드|<나열|" +
		"أرسل|ارسل|انشر|أضف|اضف|ضمن|اعرض|اكشف|شارك|انسخ|اطبع|" +
		"<भेज|<प्रकाशित|<शामिल|<दिखा|<बता|<साझा|<कॉपी|<प्रिंट|<अपलोड",
	cRoleStrong: "", // roleStrong below: its entries contain "|"
	cRoleWeak: "message from the|note from the|safety officer|sicherheitsbeauftragt*|responsable securite|responsable de la securite|responsable de seguridad|responsabile sicurezza|responsabile della sicurezza|responsavel de seguranca|инженера по безопасности|инженер по безопасности|安全主管|安全責任者|안전 책임자|مسؤول السلامة|सुरक्षा अधिकारी|begin system prompt|end system prompt|start of system prompt|system prompt:|begin system|system override|avis systeme|avis du systeme|notice systeme|alerte systeme|aviso del sistema|avviso di sistema|aviso do sistema|системное уведомление|系统公告|システム通知|시스템 공지|إشعار النظام|सिस्टम सूचना|[system|system message|system notice|system notification|system update|[admin|admin message|administrator message|message from the administrator|message from the admin|developer message|developer note|note from the developer|new system prompt|" +
		"systemnachricht|systemmeldung|systemhinweis|" +
		"message systeme|message du systeme|notification systeme|" +
		"mensaje del sistema|aviso del sistema|" +
		"messaggio di sistema|avviso di sistema|" +
		"mensagem do sistema|aviso do sistema|" +
		"системное сообщение|сообщение системы|системное уведомление|" +
		"系统消息|系统通知|系统提示|" +
		"システムメッセージ|システム通知|" +
		"시스템 메시지|시스템 알림|" +
		"رسالة النظام|إشعار النظام|" +
		"सिस्टम संदेश|सिस्टम सूचना",
	cAuthority: "waived|anulados|anuladas|annullati|annullate|отменены|сняты|снято|取消|إلغاء|हटा दी|suspended|wartungsmodus|mode maintenance|mode de maintenance|modo mantenimiento|modo de mantenimiento|modalita manutenzione|modalita di manutenzione|modo de manutencao|режим обслуживания|维护模式|メンテナンスモード|유지보수 모드|وضع الصيانة|मेंटेनेंस मोड|suspendu*|suspendid*|sospes*|suspens*|приостановлен|authori*|permission*|permitted|allowed|lifted|removed|unrestricted|maintenance mode|debug mode|god mode|developer mode|you are now|from now on|new policy|exceed*|" +
		"aufgehoben|erlaubt|berechtigt|" +
		"restriction*|levee*|leve|autorise*|" +
		"eliminad*|autorizad*|" +
		"rimoss*|autorizzat*|" +
		"removeu|autorizad*|" +
		"снял|снятие|разрешено|" +
		"解除|授权|" +
		"" +
		"해제|" +
		"بإزالة|مصرح|" +
		"हटा",
	cCfgSafety: "safety*|collision*|estop*|e_stop*|e-stop*|emergency*|interlock*|geofence*|light_curtain*|notaus*|not_halt*|nothalt*|" +
		"securite*|seguridad*|sicurezza*|seguranca*|arret_urgence*|parada_emergencia*|arresto_emergenza*|" +
		"безопасност|аварийн|安全|急停|非常停止|안전|비상정지|السلامة|الطوارئ|सुरक्षा|आपातकालीन",
	cCfgEnabled: "enabled|enable|active|activated|armed|required|aktiv*|actif|active|habilitad*|activad*|abilitat*|attiv*|ativad*|включен|启用|有效|活性|활성화|مفعل|सक्रिय",
	cCfgFalse:   "false|off|disabled|none|deaktiviert|desactive*|desactivad*|disattivat*|desativad*|desligad*|отключен|禁用|無効|비활성화|معطل|बंद",
	cContinue: "halte|garde|manten|mantenga|tieni|mantenha|держи|保持|ままに|유지|أبق|ابق|रखो|रखें|keep*|continue*|proceed*|carry on|go on|don't stop|do not stop|without stopping|full speed|drive*|open*|move|release*|drop|" +
		"weiter*|fortsetzen|fahre*|offne*|" +
		"poursui*|avance*|ouvre*|" +
		"sigue|seguir|contin*|avanza*|abre*|" +
		"prosegui*|vai avanti|apri*|" +
		"prossiga*|abra*|" +
		"продолж|не останавлива|едь|открой|" +
		"继续|不要停|打开|" +
		"続け|止まらず|開け|" +
		"계속|멈추지|열어|" +
		"استمر|واصل|افتح|" +
		"जारी|चलते|खोल",
	cPlanChange: "change of plan*|plan has changed|plans have changed|new plan|instead|" +
		"planänderung|plananderung|stattdessen|" +
		"changement de programme|changement de plan|plutot|a la place|" +
		"cambio de planes|cambio de plan|en su lugar|en vez de eso|" +
		"cambio di programma|cambio di piano|invece|" +
		"mudanca de planos|mudanca de plano|em vez disso|ao inves disso|" +
		"изменение плана|план изменился|вместо этого|" +
		"计划有变|计划变更|改为|" +
		"予定変更|計画変更|代わりに|" +
		"계획 변경|대신|" +
		"تغيير في الخطة|تغيير الخطة|بدلا من ذلك|" +
		"योजना में बदलाव|इसके बजाय",
	cHarm: "unlock*|leave the door* open|leave it open|leave them open|doors open|doors unlocked|door unlocked|gates open|out of the building|off the premises|off-site|" +
		"entriegel*|turen offen|tur offen|tore offen|" +
		"deverrouill*|portes ouvertes|porte ouverte|" +
		"desbloque*|puertas abiertas|puerta abierta|" +
		"sblocca*|porte aperte|porta aperta|" +
		"destrav*|portas abertas|porta aberta|" +
		"разблокир|двери открытыми|дверь открытой|" +
		"解锁|门保持打开|门打开|" +
		"ロック解除|開けたまま|" +
		"잠금 해제|열어 두|열어둬|" +
		"فتح القفل|الأبواب مفتوحة|الباب مفتوحا|" +
		"अनलॉक|खुले छोड़|खुला छोड़",
	cTurn: "turn|turning|switch|switching|shut|power|knock|take",
	cOff:  "off|offline|out of service",
	cMaxSpeed: "full speed|max speed|maximum speed|top speed|full throttle|" +
		"volle geschwindigkeit|voller geschwindigkeit|hochstgeschwindigkeit|" +
		"pleine vitesse|vitesse maximale|" +
		"maxima velocidad|toda velocidad|velocidad maxima|" +
		"massima velocita|tutta velocita|" +
		"velocidade maxima|toda velocidade|" +
		"полной скорости|полную скорость|максимальной скорости|" +
		"最高速度|全速|最大速度|" +
		"최고 속도|전속력|최대 속도|" +
		"بأقصى سرعة|السرعة القصوى|" +
		"अधिकतम गति|पूरी गति",
	cWarn: "message that asks|messages that ask|request that asks|requests that ask|email that asks|emails that ask|messages asking|message asking|beware of messages|" +
		// A quoted example in awareness text: "attackers hide phrases like '…'".
		"phrases like|phrase like|phrases such as|sentences like|sentence like|text like|lines like|wording like|" +
		"satze wie|satz wie|formulierungen wie|phrasen wie|" +
		"phrases comme|phrase comme|formules comme|" +
		"frases como|frase como|frasi come|frase come|" +
		"фразы вроде|фразы типа|фраз вроде|фразу вроде|фразы как|" +
		"类似|之类的句子|这样的句子|" +
		"のような文|のようなフレーズ|のような文章|" +
		"같은 문장|같은 문구|" +
		"عبارات مثل|عبارة مثل|جمل مثل|" +
		"जैसे वाक्य|" +
		"nachrichten melden|nachricht melden|" +
		"tout message qui|" +
		"cualquier mensaje que|" +
		"ogni messaggio che|" +
		"qualquer mensagem que|" +
		"любых сообщениях|любое сообщение|" +
		"如有消息要求|消息要求|" +
		"求めるメッセージ|" +
		"하라는 메시지|" +
		"أي رسالة تطلب|" +
		"कहने वाले किसी भी संदेश",
	cObey:          "obey*|take orders|take instructions|listen|gehorch*|befehle|obeis|obei|obeir|obedec*|obbedisc*|obedece|подчиняйся|слушай|只听|服从|従って|따르세요|따라|أطع|اطع|मानो|मानना",
	cOnlyMe:        "von mir an|befehle von mir|a mim|de mim|only me|only from me|only to me|only mine|nur noch von mir|nur von mir|nur mir|qu'a moi|que moi|mes ordres|solo a mi|mis ordenes|solo me|solo a me|so a mim|somente a mim|apenas a mim|только мне|только меня|只听我|我的命令|私の命令|私だけ|내 명령|나만|أوامري|मेरे आदेश",
	cMode:          "developer mode|dev mode|god mode|jailbreak mode|unrestricted mode|admin mode|root mode|sudo mode|entwicklermodus|mode developpeur|modo desarrollador|modalita sviluppatore|modo desenvolvedor|режиме разработчика|режим разработчика|开发者模式|開発者モード|개발자 모드|وضع المطور|डेवलपर मोड",
	cYouNow:        "you are now|you're now|from now on you|du bist jetzt|du bist nun|tu es maintenant|tu es desormais|ahora estas|ahora eres|ora sei|adesso sei|agora voce esta|agora voce e|теперь ты|ты теперь|你现在|あなたは今|당신은 이제|أنت الآن|انت الان|तुम अब|आप अब",
	cVerbatim:      "verbatim|word for word|you were given|you received|you got at|at startup|on startup|wortlich|beim start|mot pour mot|au demarrage|palabra por palabra|al arrancar|que recibiste|parola per parola|all'avvio|che hai ricevuto|palavra por palavra|na inicializacao|que voce recebeu|дословно|при запуске|ты получил|逐字|启动时|你收到的|一字一句|起動時|受け取った|글자 그대로|시작할 때|받은 지시|حرفيا|عند بدء التشغيل|تلقيتها|शब्दशः|शुरू होते समय|मिले थे",
	cNotApply:      "do not apply|don't apply|does not apply|no longer apply|not apply to you|gelten nicht|ne s'appliquent pas|ne s'applique pas|no se aplican|no se aplica|non valgono|non si applicano|nao se aplicam|nao se aplica|не распространяются|не применяются|не действуют на|不适用|適用されません|適用されない|적용되지 않|لا تنطبق|لا تسري|लागू नहीं",
	cAssistantTurn: "assistant:|ai:|bot:|assistent:|assistant :|asistente:|assistente:|ассистент:|助手:|助手：|アシスタント:|アシスタント：|어시스턴트:|المساعد:|सहायक:",
	cUserTurn:      "user:|human:|benutzer:|utilisateur :|utilisateur:|usuario:|utente:|usuario:|пользователь:|用户:|用户：|ユーザー:|ユーザー：|사용자:|المستخدم:|उपयोगकर्ता:",
	cStopFollowing: "stop following|stop obeying|stop complying with|no longer follow|hor auf|hör auf|nicht mehr befolgen|arrete de suivre|arretez de suivre|cesse de suivre|deja de seguir|dejes de seguir|smetti di seguire|pare de seguir|deixe de seguir|перестань соблюдать|перестань следовать|больше не соблюдай|不要再遵守|不再遵守|别再遵守|従うのをやめ|따르지 마|따르지 말|توقف عن اتباع|لا تتبع|पालन करना बंद|पालन मत",
	cSafetyRules:   "safety polic*|safety rules|safety guideline*|safety procedure*|sicherheitsrichtlinie*|sicherheitsregel*|politique de securite|regles de securite|consignes de securite|politica de seguridad|normas de seguridad|reglas de seguridad|politica di sicurezza|regole di sicurezza|politica de seguranca|regras de seguranca|политику безопасности|политика безопасности|правила безопасности|安全策略|安全规则|安全规定|安全ポリシー|安全規則|안전 정책|안전 규칙|سياسة السلامة|قواعد السلامة|सुरक्षा नीति|सुरक्षा नियम",
	cNeverTrip:     "never trips|never trip|never triggers|never fires|won't trip|cannot trip|can't trip|nie auslost|nie auslöst|ne se declenche jamais|ne declenche jamais|nunca se dispare|nunca dispare|non scatti mai|non intervenga mai|nunca dispare|никогда не сработает|не сработал|永远不会触发|不会触发|作動しない|절대 작동하지|작동하지 않|لا يعمل أبدا|कभी ट्रिप न",
	cPriority:      "takes priority|take priority|has priority|have priority|takes precedence|overrides|supersedes|hat vorrang|haben vorrang|a la priorite|ont la priorite|tiene prioridad|tienen prioridad|ha la priorita|hanno la priorita|tem prioridade|tem precedencia|важнее|имеет приоритет|优先|優先|우선|لها الأولوية|لها الاولوية|प्राथमिकता",
	cSafetyMargin:  "safety distance|safety margin|separation distance|protective separation|minimum distance|sicherheitsabstand*|distance de securite|distancia de seguridad|distanza di sicurezza|distancia de seguranca|безопасное расстояние|безопасную дистанцию|安全距离|安全距離|안전 거리|مسافة الأمان|مسافة الامان|सुरक्षा दूरी",
	cZero:          "to zero|to 0|auf null|a zero|a cero|em zero|на ноль|в ноль|设为零|为零|ゼロに|0으로|صفرا|صفر|शून्य",
	cHumanZone:     "human-only|humans only|people-only|pedestrian-only|pedestrian zone|walkway|nur fur menschen|fussganger*|reservee aux humains|reservee aux pietons|solo para personas|peatonal|riservata alle persone|pedonale|exclusiva para pessoas|pedestre*|только для людей|пешеход|仅限人员|人行|人専用|歩行者|사람 전용|보행자|المخصصة للبشر|المشاة|केवल-मनुष्य|पैदल",
	cEnter:         "enter|drive into|go into|move into|fahr*|einfahren|entrer|entre|entrar|entrare|entra|въехать|заехать|пусти|进入|开进|入れ|入ら|들어가|진입|دخول|يدخل|जाने|प्रवेश",
	cOutsider:      "outside the fence|over the fence|through the fence|to the street|onto the street|public road|unmarked van|unmarked vehicle|unmarked truck|a stranger|unknown person|whoever asks|anyone who asks|draussen am zaun|am zaun|fremde*|unbekannte*|dehors pres de la cloture|hors de la cloture|inconnu*|fuera de la valla|desconocido*|fuori dalla recinzione|sconosciut*|fora da cerca|do lado de fora da cerca|estranh*|desconhecid*|за забором|незнаком|围栏外|陌生人|フェンスの外|知らない人|울타리 밖|낯선 사람|خارج السياج|غريب|बाड़ के बाहर|अजनबी",
	cDeliver:       "deliver*|hand|hand over|give|bring|load|leave them with|leave it with|ubergib|uberreiche|liefer*|bring*|lade|remets|livre|livrez|donne|apporte|charge|entrega|entregue|lleva|carga|consegna|carica|leve|carregue|отдай|отвези|передай|загрузи|交给|送到|装上|渡して|届け|積ん|전달|갖다|실어|سلّم|سلم|أعط|اعط|احمل|दे दो|ले जाओ|पहुँचा",
	cNegPre: "est|sont|etait|etaient|a ete|ont ete|sera|seront|do not|don't|dont|never|not|must not|mustn't|should not|shall not|cannot|can't|" +
		"nicht|niemals|kein*|nie|auf keinen fall|keinesfalls|" +
		"ne|n'|jamais|en aucun cas|" +
		"no|nunca|jamas|no se debe|no se deben|no debe|no deben|bajo ningun concepto|" +
		"non|mai|in nessun caso|" +
		"nao|em caso algum|" +
		"не|никогда|нельзя|ни в коем случае|" +
		"不要|不得|不能|别|勿|禁止|切勿|" +
		"決して|" +
		"절대|" +
		"^لا$|^لن$|" +
		"^न$|^मत$|^कभी$",
	cAgent:    "assistant|agent*|bot|chatbot|ai|llm|model|language model|assistent*|agente*|assistente|asistente|ассистент*|агент*|бот|助手|代理|智能体|机器人助手|アシスタント|エージェント|ボット|어시스턴트|에이전트|봇|المساعد|الوكيل|مساعد|وكيل|सहायक|एजेंट|बॉट",
	cBypass:   "bypass*|jumper*|bridge out|short out|short-circuit*|mute*|muting|override mode|uberbruck*|überbrück*|kurzschliess*|ponte*|shunte*|puente*|puentea*|ponticell*|cavallott*|jumpe*|перемычк*|закоро*|байпас*|обход*|зашунт*|短接|旁路|跨接|屏蔽|バイパス|短絡|ジャンパ|무효화|바이패스|점퍼|단락|تجاوز|جسر|عطّل|बायपास|जम्पर|शॉर्ट",
	cAuto:     "automatically|auto-acknowledge|auto-reset|automatisch*|automatiquement|automaticamente|automáticamente|автоматически|自动|自動|자동|تلقائيا|تلقائياً|अपने आप|स्वचालित",
	cAlways:   "permanently|permanent*|always|for good|for the rest of|until monday|until morning|overnight|dauerhaft|immer|bis morgen|pour toujours|en permanence|toujours|siempre|para siempre|sempre|per sempre|para sempre|всегда|насовсем|постоянно|до утра|永久|一直|始终|常時|ずっと|항상|계속|영구|دائم*|دائماً|हमेशा|स्थायी",
	cEscape:   "fire exit|emergency exit|escape route|emergency route|notausgang|fluchtweg|sortie de secours|issue de secours|salida de emergencia|via de escape|uscita di emergenza|via di fuga|saida de emergencia|аварийный выход|аварийного выхода|эвакуацион*|安全出口|紧急出口|逃生通道|非常口|避難経路|비상구|대피로|مخرج الطوارئ|مخرج الطوارىء|आपातकालीन निकास|आपात निकास",
	cSecretly: "quietly|secretly|don't mention|do not mention|don't log|do not log|without telling|no paperwork|without paperwork|heimlich|ohne es zu|nicht erwahnen|nicht protokollieren|en secret|discretement|sans le dire|en silencio|sin decir|sin avisar|di nascosto|senza dire|em segredo|sem dizer|тихо|незаметно|не упоминай|не записывай|悄悄|偷偷|不要记录|不要提|こっそり|内緒|記録しない|몰래|기록하지|بهدوء|سرا|سراً|चुपके|चुपचाप",
	cWorkZone: "work envelope|working area|work area|work zone|working zone|cell|robot cell|walkway|aisle|arbeitsraum|arbeitsbereich|zelle|gang|enveloppe de travail|zone de travail|cellule|allee|area de trabajo|zona de trabajo|celda|pasillo|area di lavoro|cella|corridoio|area de trabalho|celula|corredor|рабочую зону|рабочей зоне|рабочая зона|ячейк*|проход|工作范围|工作区|工位|通道|作業範囲|作業エリア|セル|通路|작업 범위|작업 구역|셀|통로|منطقة العمل|الخلية|الممر|कार्य क्षेत्र|सेल|गलियारे",
	cSensor:   "scanner*|light curtain*|sensor*|detection|detector*|protective field|safety field|interlock*|door switch*|enabling switch*|two-hand*|scanne*|lichtvorhang|lichtgitter|sensor*|erkennung|schutzfeld|turschalter|zustimmtaster|barriere immaterielle|rideau lumineux|capteur*|detection|champ de protection|cortina de luz|escaner|deteccion|campo de proteccion|barriera fotoelettrica|rilevamento|campo di protezione|cortina de luz|detecao|датчик*|сканер*|световая завеса|световую завесу|обнаружени*|защитное поле|扫描仪|光幕|传感器|检测|防护区|スキャナ|ライトカーテン|センサ|検知|保護フィールド|스캐너|라이트 커튼|센서|감지|보호 필드|الماسح|الستارة الضوئية|مستشعر|حساس|كشف|स्कैनर|लाइट कर्टन|सेंसर|पहचान",
	cNegPost:  "せず|ずに|しないで|ないで|しない|してはいけ|禁止|지 마|지 말|지 않|금지|^मत$|^न करें|^नहीं|nicht|pas",
}

// cNegPre also holds the French passive auxiliaries (est, sont, a été …):
// "le mot de passe est affiché" reports a state (é is lost to mark removal,
// so the participle reads like the imperative "affiche").

// Concepts of the lexicon (at most 64).
const (
	cOverride = iota
	cInstr
	cPrior
	cVoid
	cReal
	cTask
	cYou
	cDisable
	cSafety
	cRaise
	cLimit
	cEvenIf
	cPeople
	cApproval
	cNoNeed
	cSecret
	cExfilVerb
	cRoleStrong
	cRoleWeak
	cAuthority
	cCfgSafety
	cCfgEnabled
	cCfgFalse
	cContinue
	cPlanChange
	cHarm
	cTurn
	cOff
	cMaxSpeed
	cWarn
	cObey
	cOnlyMe
	cMode
	cYouNow
	cVerbatim
	cNotApply
	cAssistantTurn
	cUserTurn
	cStopFollowing
	cSafetyRules
	cNeverTrip
	cPriority
	cSafetyMargin
	cZero
	cHumanZone
	cEnter
	cOutsider
	cDeliver
	cNegPre
	cNegPost
	// Feature-only concepts: no rule uses them; they are features of the
	// classifier (classifier.go), so that what it learns from one language
	// carries to the others.
	cAgent
	cBypass
	cAuto
	cAlways
	cEscape
	cSecretly
	cWorkZone
	cSensor
	numConcepts
)

var conceptNames = [numConcepts]string{
	"override", "instructions", "prior", "void", "real", "task", "you", "disable", "safety-function", "raise", "limit",
	"even-if", "people", "approval", "no-need", "secret", "disclose", "chat-role", "role-marker", "authority",
	"config-safety", "config-enabled", "config-false", "continue", "plan-change", "harmful-outcome", "turn", "off", "max-speed", "warning-context", "obey", "only-me", "mode", "you-are-now", "verbatim", "does-not-apply", "assistant-turn", "user-turn", "stop-following", "safety-rules", "never-trips", "priority", "safety-margin", "zero", "human-zone", "enter", "outsider", "deliver", "negation", "negation",
	"agent", "bypass", "automatically", "always", "escape-route", "secretly", "work-zone", "sensor",
}

// roleStrong are chat-template and chat-role markers (concept cRoleStrong).
var roleStrong = []string{
	"<|im_start|>", "<|im_end|>", "<|system|>", "<|start_header_id|>", "<|endoftext|>", "[inst]", "<<sys>>",
	`"role":"system"`, `"role": "system"`, `"role":"developer"`, `"role": "developer"`, `'role': 'system'`,
	"### system", "### instruction", "<system>", "</system>", "[system](#",
}
